#!/usr/bin/env bash
# System packages docbatch uses: Tesseract OCR and its common language packs,
# LibreOffice (headless, no GUI) to read legacy and OpenDocument files (.doc, .odt, .rtf,
# .ods, .odp, .ppt), and Chromium for the Web UI test (tests/test_web_ui.py drives it
# headless) (Debian).
# Idempotent; needs root (CI and this machine run as root).
set -euo pipefail
packs=(eng deu fra spa ita por nld kor jpn chi-sim chi-tra rus)
missing=()
command -v tesseract >/dev/null || missing+=(tesseract-ocr)
for pack in "${packs[@]}"; do
  dpkg -s "tesseract-ocr-$pack" >/dev/null 2>&1 || missing+=("tesseract-ocr-$pack")
done
for office in writer calc impress; do
  dpkg -s "libreoffice-$office-nogui" >/dev/null 2>&1 || missing+=("libreoffice-$office-nogui")
done
# Debian's chromium installs /usr/bin/chromium; fonts-liberation is its recommended
# font set (skipped by --no-install-recommends), so pages render with the usual metrics.
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-liberation >/dev/null 2>&1 || missing+=(fonts-liberation)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
tesseract --version | head -n 1
soffice --version
/usr/bin/chromium --version 2>/dev/null  # its launcher script warns about /dev/shm on stderr
