#!/usr/bin/env bash
# System packages docbatch uses: Tesseract OCR and its common language packs (Debian).
# Idempotent; needs root (CI and this machine run as root).
set -euo pipefail
packs=(eng deu fra spa ita por nld kor jpn chi-sim chi-tra rus)
missing=()
command -v tesseract >/dev/null || missing+=(tesseract-ocr)
for pack in "${packs[@]}"; do
  dpkg -s "tesseract-ocr-$pack" >/dev/null 2>&1 || missing+=("tesseract-ocr-$pack")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
tesseract --version | head -n 1
