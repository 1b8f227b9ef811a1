#!/bin/sh
# make check: the scenario fuzz corpus, replayed (replay.sh).
target=scenario
. "$(dirname "$0")/replay.sh"
