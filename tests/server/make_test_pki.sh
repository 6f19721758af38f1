#!/usr/bin/env bash
# A throwaway PKI for the TLS tests, made at test time (nothing is committed):
#   DIR/NAME-ca.pem, -ca.key          a CA ("/CN=NAME test CA")
#   DIR/NAME-server.pem, -server.key  CN=server, for DNS:localhost and IP:127.0.0.1
#   DIR/NAME-client.pem, -client.key  CN=client, for client authentication
# all EC P-256, valid for two days. Usage: make_test_pki.sh DIR NAME
set -euo pipefail
dir=$1
n=$2
mkdir -p "$dir"
cd "$dir"
key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
{
  openssl req -x509 "${key[@]}" -days 2 -subj "/CN=$n test CA" -keyout "$n-ca.key" -out "$n-ca.pem"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$n-server.ext"
  printf 'extendedKeyUsage=clientAuth\n' > "$n-client.ext"
  for who in server client; do
    openssl req "${key[@]}" -subj "/CN=$who" -keyout "$n-$who.key" -out "$n-$who.csr"
    openssl x509 -req -in "$n-$who.csr" -CA "$n-ca.pem" -CAkey "$n-ca.key" -CAcreateserial \
      -days 2 -extfile "$n-$who.ext" -out "$n-$who.pem"
  done
} > "$n.log" 2>&1 || { cat "$n.log" >&2; exit 1; }
