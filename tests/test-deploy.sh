# The deployment files agree with parleyd and with each other: the systemd
# unit (its sandbox's exposure score, ExecStart, credentials), the
# Dockerfile (stages, packages, user, volume, health check) and the
# Kubernetes manifests (probes, annotations, volumes, security context).
# Nothing runs a container or a service manager: the checks are static.
#
# Parts whose tools are missing (systemd-analyze 250 or later, python3-yaml,
# dpkg) are skipped with a note; the test then exits 77 unless a check
# failed.
. "$top_srcdir/tests/lib/common.sh"

# The HTTP server's planned defaults, and the other values the files share.
HTTP_PORT=8080
HEALTH_PATH=/healthz
READY_PATH=/readyz
METRICS_PATH=/metrics
STATE_DIR=/var/lib/parley
RUN_UID=10001
CREDENTIALS="telegram-token slack-app-token slack-bot-token matrix-token slack-signing-secret telegram-webhook-secret"
MAX_EXPOSURE=1.5

skipped=""
skip_part() {
        echo "SKIP part: $*" >&2
        skipped="$skipped
  $*"
}

# check_set WHAT EXPECTED-WORDS ACTUAL-WORDS: the same words, in any order.
check_set() {
        check_eq "$1" "$(printf '%s\n' $2 | sort -u | tr '\n' ' ')" \
                "$(printf '%s\n' $3 | sort -u | tr '\n' ' ')"
}

# ---------------------------------------------------------------- the unit
UNIT="$top_builddir/systemd/parleyd.service"
if [ ! -f "$UNIT" ]; then
        fail "$UNIT was not made (make builds it from systemd/parleyd.service.in)"
else
        # Only the [Service] section's Key=value lines.
        unit_key() {
                sed -n '/^\[Service\]/,/^\[/p' "$UNIT" | sed -n "s/^$1=//p"
        }
        check_eq "unit Type" notify "$(unit_key Type)"
        check_eq "unit WatchdogSec" 30s "$(unit_key WatchdogSec)"
        check_eq "unit Restart" on-failure "$(unit_key Restart)"
        # shellcheck disable=SC2016
        check_eq "unit ExecReload" '/bin/kill -HUP $MAINPID' "$(unit_key ExecReload)"
        check_eq "unit StateDirectory" "$(basename "$STATE_DIR")" "$(unit_key StateDirectory)"
        check_eq "unit ConfigurationDirectory" parley "$(unit_key ConfigurationDirectory)"
        check_eq "unit DynamicUser" yes "$(unit_key DynamicUser)"
        check_set "unit LoadCredential= names" "$CREDENTIALS" "$(unit_key LoadCredential)"

        # ExecStart runs the parleyd that "make install" puts in sbindir,
        # with the configuration file that parleyd reads by default.
        if [ -z "${parley_sbindir:-}" ] || [ -z "${parley_sysconfdir:-}" ]; then
                skip_part "ExecStart: make check sets parley_sbindir and parley_sysconfdir"
        else
                conf="$parley_sysconfdir/parley/parleyd.conf"
                check_eq "unit ExecStart" "$parley_sbindir/parleyd --config $conf" \
                        "$(unit_key ExecStart)"
                check_grep "parleyd is installed in sbindir" \
                        '^sbin_PROGRAMS += src/parleyd$' "$top_srcdir/src/local.mk"
                "$PARLEYD" --help > "$TEST_DIR/help" 2>&1 || true
                check_grep "parleyd's default configuration is the unit's" \
                        "(default $conf;" "$TEST_DIR/help"
        fi

        # The sandbox: systemd-analyze scores it from 0 (locked down) to 10.
        version=$(systemd-analyze --version 2>/dev/null | sed -n 's/^systemd \([0-9]*\).*/\1/p')
        if [ -z "$version" ]; then
                skip_part "unit security: no systemd-analyze (apt-get install systemd)"
        elif [ "$version" -lt 250 ]; then
                skip_part "unit security: systemd-analyze $version has no --offline (250 or later)"
        else
                status=0
                systemd-analyze security --offline=yes --threshold=15 "$UNIT" \
                        > "$TEST_DIR/security" 2>&1 || status=$?
                check_eq "systemd-analyze security --threshold=15 exit status" 0 "$status"
                score=$(sed -n \
                        's/^→ Overall exposure level for parleyd.service: \([0-9.]*\) .*/\1/p' \
                        "$TEST_DIR/security")
                echo "exposure score: ${score:-none}" >&2
                test_checks=$((test_checks + 1))
                if [ -z "$score" ]; then
                        fail "no exposure score in the output of systemd-analyze security"
                        sed 's/^/    /' "$TEST_DIR/security" >&2
                elif ! awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
                        fail "exposure score $score is above $MAX_EXPOSURE"
                        grep '✗' "$TEST_DIR/security" >&2 || true
                fi
        fi
fi

# ---------------------------------------------------------- the Dockerfile
DOCKERFILE="$top_srcdir/Dockerfile"
# Continuation lines joined, comments and blank lines dropped.
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$DOCKERFILE" | sed -e '/^[[:space:]]*#/d' \
        -e '/^[[:space:]]*$/d' -e 's/[[:space:]][[:space:]]*/ /g' > "$TEST_DIR/Dockerfile"
# The run-time stage: from the last FROM on.
last_from=$(grep -n '^FROM ' "$TEST_DIR/Dockerfile" | tail -n 1 | cut -d: -f1)
sed -n "${last_from:-1},\$p" "$TEST_DIR/Dockerfile" > "$TEST_DIR/runtime"
sed -n "1,$(( ${last_from:-1} - 1 ))p" "$TEST_DIR/Dockerfile" > "$TEST_DIR/build"

check_eq "Dockerfile stages" "FROM debian:12 AS build
FROM debian:12-slim" "$(grep '^FROM ' "$TEST_DIR/Dockerfile")"
check_grep "the run-time stage takes the programs from the build stage" \
        '^COPY --from=build /staging/usr/sbin/parleyd /usr/sbin/parleyd$' "$TEST_DIR/runtime"
check_grep "configured for /etc and /var" \
        "configure -q --prefix=/usr --sysconfdir=/etc --localstatedir=/var" "$TEST_DIR/build"
check_eq "Dockerfile USER" "USER $RUN_UID:$RUN_UID" "$(grep '^USER ' "$TEST_DIR/runtime")"
check_grep "the image's user has uid $RUN_UID" "useradd .*--uid $RUN_UID " "$TEST_DIR/runtime"
check_eq "Dockerfile VOLUME" "VOLUME $STATE_DIR" "$(grep '^VOLUME ' "$TEST_DIR/runtime")"
check_eq "Dockerfile EXPOSE" "EXPOSE $HTTP_PORT" "$(grep '^EXPOSE ' "$TEST_DIR/runtime")"
check_grep "Dockerfile PARLEY_HTTP_PORT" "^ENV .*PARLEY_HTTP_PORT=$HTTP_PORT\\b" "$TEST_DIR/runtime"
check_grep "Dockerfile PARLEY_HTTP_ADDRESS" '^ENV .*PARLEY_HTTP_ADDRESS=0\.0\.0\.0\( \|$\)' \
        "$TEST_DIR/runtime"
check_grep "Dockerfile CREDENTIALS_DIRECTORY" "^ENV CREDENTIALS_DIRECTORY=/run/secrets$" \
        "$TEST_DIR/runtime"
check_grep "HEALTHCHECK asks $HEALTH_PATH on the configured port" \
        "^HEALTHCHECK .* CMD curl -fsS .*\"http://127.0.0.1:\${PARLEY_HTTP_PORT}$HEALTH_PATH\"" \
        "$TEST_DIR/runtime"
check_eq "Dockerfile ENTRYPOINT" 'ENTRYPOINT ["/usr/sbin/parleyd", "--foreground"]' \
        "$(grep '^ENTRYPOINT ' "$TEST_DIR/runtime")"
check_eq "Dockerfile CMD" 'CMD ["--config", "/etc/parley/parleyd.conf"]' \
        "$(grep '^CMD ' "$TEST_DIR/runtime")"

# The packages apt-get installs in a stage.
stage_packages() {
        grep -o 'apt-get install -y --no-install-recommends [^&]*' "$1" |
                sed 's/apt-get install -y --no-install-recommends //' | tr ' ' '\n' | sed '/^$/d'
}
stage_packages "$TEST_DIR/build" > "$TEST_DIR/build-packages"
stage_packages "$TEST_DIR/runtime" > "$TEST_DIR/runtime-packages"

# The build stage has every -dev package quickstart.sh installs.
sed -n '/^PACKAGES="/,/"$/p' "$top_srcdir/quickstart.sh" | tr -d '"' |
        sed 's/^PACKAGES=//' | tr ' ' '\n' | grep -- '-dev$' > "$TEST_DIR/dev-packages" || true
check_range "-dev packages in quickstart.sh" 10 100 "$(wc -l < "$TEST_DIR/dev-packages")"
while read -r p; do
        test_checks=$((test_checks + 1))
        grep -qx -- "$p" "$TEST_DIR/build-packages" ||
                fail "the Dockerfile's build stage does not install $p (quickstart.sh does)"
done < "$TEST_DIR/dev-packages"
for p in curl ca-certificates; do
        test_checks=$((test_checks + 1))
        grep -qx -- "$p" "$TEST_DIR/runtime-packages" ||
                fail "the Dockerfile's run-time stage does not install $p"
done

# The run-time stage has the package of every library the programs link,
# as this (Debian) machine resolves them.
# ldconfig is in /sbin, outside a user's PATH on Debian.
LDCONFIG=$(PATH="$PATH:/sbin:/usr/sbin" command -v ldconfig || true)
if ! command -v dpkg-query >/dev/null || ! command -v readelf >/dev/null ||
   [ -z "$LDCONFIG" ]; then
        skip_part "run-time libraries: needs dpkg, readelf (binutils) and ldconfig"
elif readelf -d "$PARLEYD" | grep -q 'libasan\|libubsan'; then
        # A sanitizer build links the sanitizers' libraries, which the image
        # never ships.
        skip_part "run-time libraries: this is a sanitizer build"
else
        for prog in "$PARLEYD" "$PARLEY"; do
                readelf -d "$prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
        done | sort -u > "$TEST_DIR/needed"
        check_range "libraries parleyd and parley link" 8 100 "$(wc -l < "$TEST_DIR/needed")"
        while read -r lib; do
                path=$("$LDCONFIG" -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
                # dpkg knows the path as packaged: /lib/... on merged /usr,
                # the target of an alternative such as libopenblas.so.0.
                pkg=$( { dpkg-query -S "$path" || dpkg-query -S "$(readlink -f "$path")"; } \
                        2>/dev/null | cut -d: -f1 | head -n 1)
                test_checks=$((test_checks + 1))
                case "$pkg" in
                "") fail "no Debian package has $lib ($path)" ;;
                libc6) ;;       # in every Debian image
                *) grep -qx -- "$pkg" "$TEST_DIR/runtime-packages" ||
                        fail "the Dockerfile's run-time stage lacks $pkg, which has $lib" ;;
                esac
        done < "$TEST_DIR/needed"
fi

# ---------------------------------------------------- the Kubernetes files
DEPLOY="$top_srcdir/deploy"
FACTS="/usr/bin/python3 $top_srcdir/tests/lib/manifest-facts.py"
status=0
$FACTS facts "$DEPLOY"/*.yaml > "$TEST_DIR/facts" 2> "$TEST_DIR/facts.err" || status=$?
if [ "$status" -eq 77 ] || [ ! -x /usr/bin/python3 ]; then
        skip_part "Kubernetes manifests: $(cat "$TEST_DIR/facts.err" 2>/dev/null)"
elif [ "$status" -ne 0 ]; then
        fail "the manifests do not parse: $(cat "$TEST_DIR/facts.err")"
else
        # fact OBJECT PATH: its value ("<missing>" when absent).
        fact() {
                awk -v k="$1 $2=" '
                        index($0, k) == 1 { print substr($0, length(k) + 1); f = 1; exit }
                        END { if (!f) print "<missing>" }' "$TEST_DIR/facts"
        }
        check_fact() {
                check_eq "$1 $2" "$3" "$(fact "$1" "$2")"
        }
        STS=StatefulSet/parley
        POD="spec.template"
        C="$POD.spec.containers[parleyd]"

        check_fact $STS kind StatefulSet
        check_fact $STS apiVersion apps/v1
        check_fact $STS spec.replicas 1
        check_eq "containers in the pod" 1 \
                "$(grep -c "^$STS $POD.spec.containers\[[^]]*\].name=" "$TEST_DIR/facts")"

        # The database's volume.
        check_fact $STS "spec.volumeClaimTemplates[0].metadata.name" state
        check_fact $STS "spec.volumeClaimTemplates[0].spec.accessModes[0]" ReadWriteOnce
        check_fact $STS "$C.volumeMounts[state].mountPath" "$STATE_DIR"

        # HTTP: one port, the same in the env, the probes and the annotations.
        check_fact $STS "$C.ports[http].containerPort" "$HTTP_PORT"
        check_fact $STS "$C.env[PARLEY_HTTP_PORT].value" "$HTTP_PORT"
        check_fact $STS "$C.env[PARLEY_HTTP_ADDRESS].value" 0.0.0.0
        check_fact $STS "$C.livenessProbe.httpGet.path" "$HEALTH_PATH"
        check_fact $STS "$C.livenessProbe.httpGet.port" http
        check_fact $STS "$C.startupProbe.httpGet.path" "$HEALTH_PATH"
        check_fact $STS "$C.startupProbe.httpGet.port" http
        check_fact $STS "$C.readinessProbe.httpGet.path" "$READY_PATH"
        check_fact $STS "$C.readinessProbe.httpGet.port" http
        check_fact $STS "$POD.metadata.annotations.prometheus.io/scrape" true
        check_fact $STS "$POD.metadata.annotations.prometheus.io/port" "$HTTP_PORT"
        check_fact $STS "$POD.metadata.annotations.prometheus.io/path" "$METRICS_PATH"

        # Limits, and the sandbox.
        for r in requests.cpu requests.memory limits.cpu limits.memory; do
                test_checks=$((test_checks + 1))
                [ "$(fact $STS "$C.resources.$r")" != "<missing>" ] ||
                        fail "the container has no resources.$r"
        done
        check_fact $STS "$POD.spec.securityContext.runAsNonRoot" true
        check_fact $STS "$POD.spec.securityContext.runAsUser" "$RUN_UID"
        check_fact $STS "$POD.spec.securityContext.fsGroup" "$RUN_UID"
        check_fact $STS "$POD.spec.securityContext.seccompProfile.type" RuntimeDefault
        check_fact $STS "$C.securityContext.readOnlyRootFilesystem" true
        check_fact $STS "$C.securityContext.allowPrivilegeEscalation" false
        check_fact $STS "$C.securityContext.capabilities.drop[0]" ALL
        check_fact $STS "$C.securityContext.capabilities.add[0]" "<missing>"

        # The configuration: a ConfigMap that exists, mounted where --config
        # looks, whose parleyd.conf parleyd accepts with the pod's variables.
        check_fact $STS "$C.args[0]" --config
        check_fact $STS "$C.args[1]" /etc/parley/parleyd.conf
        check_fact $STS "$C.volumeMounts[config].mountPath" /etc/parley
        cm=$(fact $STS "$POD.spec.volumes[config].configMap.name")
        check_fact "ConfigMap/$cm" kind ConfigMap
        if $FACTS data "$DEPLOY/configmap.yaml" ConfigMap "$cm" parleyd.conf \
                > "$TEST_DIR/parleyd.conf"; then
                # No adapter is enabled in the example (it needs tokens); the
                # console stands in for one.
                # shellcheck disable=SC2046
                env $(awk -v k="$STS $C.env[PARLEY_" '
                        index($0, k) == 1 && /\]\.value=/ {
                                s = substr($0, length(k) - 6)
                                sub(/\]\.value=/, "=", s)
                                print s
                        }' "$TEST_DIR/facts") PARLEY_CONSOLE_ENABLED=true \
                        "$PARLEYD" --config "$TEST_DIR/parleyd.conf" --check-config \
                        > "$TEST_DIR/check-config" 2>&1 || status=$?
                check_eq "parleyd --check-config on the ConfigMap's parleyd.conf" \
                        "$TEST_DIR/parleyd.conf: configuration is valid" \
                        "$(cat "$TEST_DIR/check-config")"
                check_grep "the ConfigMap's state_dir" "^state_dir = $STATE_DIR$" \
                        "$TEST_DIR/parleyd.conf"
        else
                fail "ConfigMap $cm has no parleyd.conf"
        fi

        # The tokens: a Secret that exists, with the credential names and
        # no values, mounted where CREDENTIALS_DIRECTORY points.
        secret=$(fact $STS "$POD.spec.volumes[tokens].secret.secretName")
        check_fact "Secret/$secret" kind Secret
        check_set "the Secret's keys" "$CREDENTIALS" \
                "$(sed -n "s|^Secret/$secret stringData\.\([^=]*\)=.*|\1|p" "$TEST_DIR/facts")"
        check_eq "the Secret's values (placeholders only)" "" \
                "$(sed -n "s|^Secret/$secret stringData\.[^=]*=||p" "$TEST_DIR/facts" | tr -d '\n')"
        check_fact $STS "$C.volumeMounts[tokens].mountPath" \
                "$(fact $STS "$C.env[CREDENTIALS_DIRECTORY].value")"
        check_fact $STS "$C.volumeMounts[tokens].readOnly" true

        # The Service: the StatefulSet's, selecting its pods, on the port.
        svc=$(fact $STS spec.serviceName)
        check_fact "Service/$svc" kind Service
        check_fact "Service/$svc" "spec.selector.app.kubernetes.io/name" \
                "$(fact $STS "$POD.metadata.labels.app.kubernetes.io/name")"
        check_fact "Service/$svc" "spec.ports[http].targetPort" http

        # The image: the StatefulSet's, tagged with this version.
        check_fact $STS "$C.image" parley
        check_fact Kustomization/- "images[parley].newTag" \
                "$("$PARLEYD" --version | sed -n 's/^parleyd //p')"

        # kustomization.yaml lists files that exist, and not the Secret's
        # placeholders, which would overwrite real tokens at every apply.
        sed -n 's/^Kustomization\/- resources\[[0-9]*\]=//p' "$TEST_DIR/facts" \
                > "$TEST_DIR/resources"
        check_set "kustomization resources" "configmap.yaml service.yaml statefulset.yaml" \
                "$(cat "$TEST_DIR/resources")"
        while read -r f; do
                test_checks=$((test_checks + 1))
                [ -f "$DEPLOY/$f" ] || fail "kustomization.yaml lists $f, which is not in deploy/"
        done < "$TEST_DIR/resources"
        if command -v kubectl >/dev/null; then
                status=0
                kubectl kustomize "$DEPLOY" > "$TEST_DIR/kustomized" 2>&1 || status=$?
                check_eq "kubectl kustomize deploy/ exit status" 0 "$status"
                check_eq "objects kustomize makes" 3 "$(grep -c '^kind: ' "$TEST_DIR/kustomized")"
        fi
fi

# The Dockerfile's user is the pod's.
check_eq "Dockerfile USER and the pod's runAsUser" "USER $RUN_UID:$RUN_UID" \
        "$(grep '^USER ' "$TEST_DIR/runtime")"

if [ -n "$skipped" ] && [ "$test_failures" -eq 0 ]; then
        test_finish
        echo "SKIP: parts were not checked:$skipped" >&2
        exit 77
fi
test_finish
