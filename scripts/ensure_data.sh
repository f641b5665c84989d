#!/usr/bin/env bash
# Find Fashion-MNIST, or get it: `gan-atelier data fetch` (official mirrors), then, as root on
# Debian with no internet, the package dataset-fashion-mnist. With --soft, never fail.
set -u
cli="${VENV:-.venv}/bin/gan-atelier"
soft=0; [ "${1:-}" = "--soft" ] && soft=1
if "$cli" data verify >/dev/null 2>&1; then
  "$cli" data verify; exit 0
fi
echo "Fashion-MNIST not found: trying 'gan-atelier data fetch'…"
if "$cli" data fetch; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Download failed: installing the Debian package dataset-fashion-mnist…"
  if ! apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1
  fi
  "$cli" data verify && exit 0
fi
echo "No Fashion-MNIST available (see 'gan-atelier data info')." >&2
[ "$soft" = 1 ] && exit 0 || exit 3
