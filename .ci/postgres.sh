# Sourced by .ci/run: a throwaway PostgreSQL cluster for the scoring service's store tests.
# Installs Debian's server when it is missing (root, no prompt), starts a private cluster on a
# free loopback port and exports PSYCHOMETRICS_TEST_POSTGRES_URL; the cluster stops on exit.
# PSYCHOMETRICS_REQUIRE_POSTGRES=1 makes those tests fail, not skip, if this did not work.
export PSYCHOMETRICS_REQUIRE_POSTGRES=1
if [ -z "${PSYCHOMETRICS_TEST_POSTGRES_URL:-}" ]; then
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
            && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            postgresql) >/tmp/psychometrics-ci-postgresql.log 2>&1 \
            || echo "PostgreSQL could not be installed (see /tmp/psychometrics-ci-postgresql.log)."
    fi
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$pg_bin" ]; then
        pg_dir=$(mktemp -d /tmp/psychometrics-pg.XXXXXX)
        pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        pg_as=()
        if [ "$(id -u)" = 0 ]; then chown postgres "$pg_dir"; pg_as=(runuser -u postgres --); fi
        "${pg_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U psychometrics --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1
        "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
            -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1" start >/dev/null
        trap '"${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$pg_dir"' EXIT
        "${pg_as[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U psychometrics psychometrics_test
        export PSYCHOMETRICS_TEST_POSTGRES_URL="postgresql+psycopg://psychometrics@127.0.0.1:$pg_port/psychometrics_test"
    else
        echo "PostgreSQL is not available: the store tests on PostgreSQL will fail."
    fi
fi
