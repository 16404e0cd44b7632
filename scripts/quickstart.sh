#!/usr/bin/env bash
# A first run on SQLite: initialise ./instance and register a sample facility, product and lot.
set -euo pipefail
cd "$(dirname "$0")/.."
export AGRITRACE_INSTANCE="${AGRITRACE_INSTANCE:-$PWD/instance}"
export AGRITRACE_BASE_URL="${AGRITRACE_BASE_URL:-https://trace.example.vn}"
export AGRITRACE_KEY_PASSPHRASE="${AGRITRACE_KEY_PASSPHRASE:-quickstart passphrase, change me}"
bin=.venv/bin/agritrace
$bin init
if ! $bin lot show HD-VAI-01/L2026-001 >/dev/null 2>&1; then
  $bin facility add --code HD-VAI-01 --name "HTX Vải thiều Thanh Hà" --province "Hải Dương" \
    --address "Thanh Hà, Hải Dương" --gln 8930000000019
  $bin facility certify HD-VAI-01 --scheme vietgap --number VG-2026-0142 \
    --issuer "Trung tâm Chứng nhận Phù hợp" --valid-from 2026-01-01 --valid-to 2028-12-31 \
    --scope "vải thiều"
  $bin product add --code VAI-THIEU --name "Vải thiều Thanh Hà" --category fruit --unit box \
    --gtin 8934567890120
  $bin lot create --facility HD-VAI-01 --product VAI-THIEU --code L2026-001 --units 400 \
    --quantity 2000 --quantity-unit kg --harvest-date 2026-06-10 --origin-area "Thanh Hà"
fi
$bin lot list
