#!/bin/sh
# A fresh install as README's "Installing Python and onecsync" says, with this host's Python:
# a new venv, `pip install` of the checkout, `--version`, then the quick start on a copy of the
# bundled example (the checkout stays clean). Needs the package index (or a wheelhouse given in
# PIP_FIND_LINKS with PIP_NO_INDEX=1). Usage: tools/check_install.sh [python3.11]
set -eu
py=${1:-python3}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
    || { echo "check_install: $py is older than 3.11: see README" >&2; exit 3; }
"$py" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$repo"
"$work/venv/bin/onecsync" --version
cp -r "$repo/config.example.yaml" "$repo/fixtures" "$work/"
cd "$work"
"$work/venv/bin/onecsync" --config config.example.yaml -q run
"$work/venv/bin/onecsync" --config config.example.yaml status >/dev/null
"$work/venv/bin/onecsync" manpage | grep -q '^\.TH ONECSYNC 1'
echo "check_install: ok ($("$py" --version), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"))"
