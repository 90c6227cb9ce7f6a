#!/usr/bin/env bash
# `dtn bundle create, sign, encrypt, decrypt, verify` round trip with whatever `dtn` is first on PATH (or $DTN).
# Used after a bare `pip install -e .` (no extras) by tools/check-newest.sh, and by tests/test_install_checks.py.
set -euo pipefail
read -r -a dtn <<< "${DTN:-dtn}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'spacedtn round trip %s\n' "$(seq 1 200 | tr '\n' ' ')" > "$work/payload.txt"
printf '%s\n' 1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809 > "$work/hmac.key"
printf '%s\n' 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff > "$work/aes.key"
"${dtn[@]}" bundle create --src ipn:1.1 --dst ipn:2.1 --payload-file "$work/payload.txt" --crc 32 --lifetime 1h \
  --creation-time-ms 1000 -o "$work/plain.bin"
"${dtn[@]}" bundle sign "$work/plain.bin" --key-file "$work/hmac.key" -o "$work/signed.bin"
"${dtn[@]}" bundle encrypt "$work/signed.bin" --key-file "$work/aes.key" --wrap -o "$work/encrypted.bin"
"${dtn[@]}" bundle decrypt "$work/encrypted.bin" --key-file "$work/aes.key" -o "$work/decrypted.bin"
"${dtn[@]}" bundle verify "$work/decrypted.bin" --key-file "$work/hmac.key"
cmp "$work/signed.bin" "$work/decrypted.bin"
"${dtn[@]}" bundle decode "$work/decrypted.bin" > "$work/decoded.json"
grep -q '"data_hex": "737061636564746e20726f756e64207472697020' "$work/decoded.json"  # "spacedtn round trip "
if "${dtn[@]}" bundle decrypt "$work/encrypted.bin" --key-file "$work/hmac.key" -o "$work/wrong.bin" 2> "$work/err.txt"; then
  echo "decrypting with the wrong key succeeded" >&2
  exit 1
fi
echo "bundle round trip ok: create, sign, encrypt, decrypt, verify"
