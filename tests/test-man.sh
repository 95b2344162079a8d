# The manual pages render without warnings, and every configuration key
# parleyd accepts is documented in parleyd.conf(5).
. "$top_srcdir/tests/lib/common.sh"

if ! command -v mandoc >/dev/null; then
        echo "SKIP: mandoc is not installed (apt-get install mandoc)" >&2
        exit 77
fi

for page in "$top_srcdir"/man/*.[1-8]; do
        check_eq "mandoc -T lint $(basename "$page")" "" "$(mandoc -T lint -W warning "$page" 2>&1)"
done

"$PARLEYD" --config-keys > "$TEST_DIR/keys"
check_range "configuration keys listed" 5 1000 "$(wc -l < "$TEST_DIR/keys")"

mandoc -T ascii "$top_srcdir/man/parleyd.conf.5" | sed 's/.\x08//g' > "$TEST_DIR/conf.txt"
while read -r section key rest; do
        name=$(echo "$section" | tr -d '[]')
        # The key must appear in its section's part of the page.
        awk -v s="SECTION [$name]" -v k="$key" '
                index($0, s) { on = 1; next }
                /^SECTION / { on = 0 }
                on && $1 == k { found = 1 }
                END { exit !found }' "$TEST_DIR/conf.txt" \
                || fail "[$name] $key is not documented in parleyd.conf(5)"
        test_checks=$((test_checks + 1))
done < "$TEST_DIR/keys"

test_finish
