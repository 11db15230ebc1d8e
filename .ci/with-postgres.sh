#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server:
#   .ci/with-postgres.sh CMD ARGS...
# starts the server (.ci/postgres.sh), exports TASKFLOW_TEST_DATABASE_URL, runs CMD, and stops
# the server however CMD ends. Where no server can be had (not root and no local PostgreSQL)
# it says so and exits 0, except under CI=true, where that is a failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! bash "$here/postgres.sh" available; then
    if [[ "${CI:-}" == "true" ]]; then
        echo "with-postgres.sh: no PostgreSQL here and not root: cannot run the PostgreSQL suite" >&2
        exit 1
    fi
    echo "with-postgres.sh: PostgreSQL not installed and not root; skipping the PostgreSQL run" >&2
    exit 0
fi

dir="$(mktemp -d /tmp/taskflow-pg.XXXXXX)"
trap 'bash "$here/postgres.sh" stop "$dir"' EXIT
trap 'exit 130' INT TERM
url="$(bash "$here/postgres.sh" start "$dir")"
export TASKFLOW_TEST_DATABASE_URL="$url"
echo "with-postgres.sh: TASKFLOW_TEST_DATABASE_URL=$url" >&2
"$@"
