#!/usr/bin/env bash
# Create the switch's data directory (default /etc/kamailio/vpbx, owner root, group kamailio, mode 0750; files 0640):
#   api_keys     db_text table: key "*" = the default telephony key, "+<E.164>" = a key for one number (tenant)
#   subscriber   db_text table: phones' digest credentials (user = extension, domain = SIP_DOMAIN, plain password)
#   peers.list   permissions address file: group 1 = addresses that may start calls without credentials
#   tls.cfg, cert.pem, key.pem   TLS listener (a self-signed certificate unless you put your own there)
#   version      db_text table versions
# Usage: setup-data-dir.sh --api-key-file FILE [--dir DIR] [--domain pbx.demo.local] [--peer IP[/MASK]]...
#                          [--phone EXT:PASSWORD]... [--number-key +74951234567:FILE]...
# Re-running rewrites the files (restart the switch to load them). The key is read from a file, never an argument.
set -euo pipefail

DIR=/etc/kamailio/vpbx
DOMAIN=pbx.demo.local
KEY_FILE=""
PEERS=()
PHONES=()
NUMBER_KEYS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) DIR="$2"; shift 2 ;;
        --domain) DOMAIN="$2"; shift 2 ;;
        --api-key-file) KEY_FILE="$2"; shift 2 ;;
        --peer) PEERS+=("$2"); shift 2 ;;
        --phone) PHONES+=("$2"); shift 2 ;;
        --number-key) NUMBER_KEYS+=("$2"); shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 64 ;;
    esac
done
[[ -n "$KEY_FILE" && -r "$KEY_FILE" ]] || { echo "--api-key-file FILE (readable) is required" >&2; exit 64; }

escape() { local v="${1//\\/\\\\}"; printf '%s' "${v//:/\\:}"; }
GROUP=kamailio
getent group "$GROUP" >/dev/null 2>&1 || GROUP=$(id -gn)

umask 027
mkdir -p "$DIR"
printf 'id(int,auto) table_name(string) table_version(int) \n0:api_keys:2\n0:subscriber:7\n' >"$DIR/version"
{
    printf 'id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int) \n'
    printf '1:*:0:0:%s:0\n' "$(escape "$(tr -d '\r\n' <"$KEY_FILE")")"
    n=2
    for entry in "${NUMBER_KEYS[@]}"; do
        printf '%d:%s:0:0:%s:0\n' "$n" "$(escape "${entry%%:*}")" "$(escape "$(tr -d '\r\n' <"${entry#*:}")")"
        n=$((n + 1))
    done
} >"$DIR/api_keys"
{
    printf 'id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) \n'
    n=1
    for entry in "${PHONES[@]}"; do
        user="${entry%%:*}"
        password="${entry#*:}"
        ha1=$(printf '%s' "$user:$DOMAIN:$password" | md5sum | cut -d' ' -f1)
        ha1b=$(printf '%s' "$user@$DOMAIN:$DOMAIN:$password" | md5sum | cut -d' ' -f1)
        printf '%d:%s:%s:%s:%s:%s\n' "$n" "$(escape "$user")" "$DOMAIN" "$(escape "$password")" "$ha1" "$ha1b"
        n=$((n + 1))
    done
} >"$DIR/subscriber"
{
    echo "# group address [mask] [port]: group 1 may start calls without credentials"
    for peer in "${PEERS[@]}"; do
        if [[ "$peer" == */* ]]; then echo "1 ${peer%/*} ${peer#*/}"; else echo "1 $peer"; fi
    done
} >"$DIR/peers.list"
if [[ ! -s "$DIR/cert.pem" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$DOMAIN" \
        -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
fi
cat >"$DIR/tls.cfg" <<TLS
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $DIR/key.pem
certificate = $DIR/cert.pem

[client:default]
verify_certificate = no
require_certificate = no
TLS
chgrp -R "$GROUP" "$DIR"
chmod 0750 "$DIR"
chmod 0640 "$DIR"/*
echo "data directory ready: $DIR (group $GROUP; start kamailio with -A 'DATA_DIR=\"$DIR\"' -A 'DATA_URL=\"text://$DIR\"' -A 'PEERS_FILE=\"$DIR/peers.list\"' -A 'TLS_CFG=\"$DIR/tls.cfg\"' unless it is the default)"
