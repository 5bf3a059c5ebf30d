#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, trust) and MariaDB (127.0.0.1:3306, root, empty
# password) are up with a `test` database. A no-op where they already run; installs and
# starts them where they do not (run as root). Fails loudly if either cannot be brought up.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
up() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; }
wait_up() { for _ in $(seq 1 120); do up "$1" && return 0; sleep 0.25; done; echo "port $1 never opened" >&2; return 1; }
updated=0
apt_install() { [ "$updated" = 1 ] || { apt-get update -qq; updated=1; }; apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }

if ! up 5432; then
  echo "PostgreSQL is not listening on 5432: starting it"
  command -v pg_lsclusters >/dev/null || apt_install postgresql
  ver=$(pg_lsclusters -h | awk '$2 == "main" {print $1; exit}')
  hba=$(pg_conftool -s "$ver" main show hba_file)
  printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' 'host all all ::1/128 trust' > "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster "$ver" main start
  wait_up 5432
fi
psql -h 127.0.0.1 -U postgres -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'root'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -qc "CREATE ROLE root SUPERUSER LOGIN"
for db in test root; do
  psql -h 127.0.0.1 -U postgres -qtAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || createdb -h 127.0.0.1 -U postgres "$db"
done

if ! up 3306; then
  echo "MariaDB is not listening on 3306: starting it"
  command -v mariadbd >/dev/null || apt_install mariadb-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || service mariadb start
  wait_up 3306
  mariadb -uroot -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');" || true
fi
mariadb -h 127.0.0.1 -uroot -e "CREATE DATABASE IF NOT EXISTS test" \
  || mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS test"
echo "postgresql and mariadb are up"
