#!/bin/sh
# make check: the lspci fuzz corpus, replayed (replay.sh).
target=lspci
. "$(dirname "$0")/replay.sh"
