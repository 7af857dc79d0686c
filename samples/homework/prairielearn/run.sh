#!/usr/bin/env bash
# PrairieLearn external grader for an attention exercise: the question's tests/ folder holds problem.toml,
# the student uploads weights.csv (<pl-file-upload file-names="weights.csv">). In the question's info.json:
#   "externalGradingOptions": {"enabled": true, "image": "<an image with attncli>", "entrypoint": "/grade/tests/run.sh"}
set -u
root=${GRADE_ROOT:-/grade}   # PrairieLearn's layout: student/, tests/, results/
mkdir -p "$root/results"
attncli check "$root/student/weights.csv" "$root/tests/problem.toml" --credit cells \
    --report "$root/results/results.json" --report-format prairielearn
status=$?
[ "$status" -le 1 ] || echo '{"gradable": false, "format_errors": ["The grader could not run; ask your TA."]}' \
    > "$root/results/results.json"
exit 0
