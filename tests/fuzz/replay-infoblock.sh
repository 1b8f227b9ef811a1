#!/bin/sh
# make check: the infoblock fuzz corpus, replayed (replay.sh).
target=infoblock
. "$(dirname "$0")/replay.sh"
