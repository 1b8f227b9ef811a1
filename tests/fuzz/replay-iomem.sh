#!/bin/sh
# make check: the iomem fuzz corpus, replayed (replay.sh).
target=iomem
. "$(dirname "$0")/replay.sh"
