# Dockerfile: parleyd in a container (docs/deploy.md).
#
#   docker build -t parley .
#   docker run -d --name parley -v parley-state:/var/lib/parley \
#       -v /etc/parley/secrets:/run/secrets:ro -e PARLEY_SLACK_ENABLED=true parley
#
# Two stages: the first builds with Debian's -dev packages, the second holds
# the programs and only the run-time libraries.

# --- build ----------------------------------------------------------------
FROM debian:12 AS build

# The build packages of quickstart.sh, less the manual-page linter the tests
# use.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential autoconf automake pkg-config \
        libuv1-dev libsqlite3-dev libinih-dev libutf8proc-dev libjson-c-dev \
        libcurl4-openssl-dev libwebsockets-dev libsystemd-dev libopenblas-dev \
        libyaml-dev libicu-dev libxxhash-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# --prefix=/usr --sysconfdir=/etc --localstatedir=/var: parleyd then reads
# /etc/parley/parleyd.conf and keeps its state in /var/lib/parley.
# "docker build --build-arg RUN_TESTS=yes" also runs the test suite.
ARG RUN_TESTS=no
RUN autoreconf -fi \
    && ./configure -q --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
    && make -j"$(nproc)" \
    && if [ "$RUN_TESTS" = yes ]; then make check; fi \
    && make install-strip DESTDIR=/staging

# --- run ------------------------------------------------------------------
FROM debian:12-slim

# The run-time libraries parleyd and parley link (their -dev packages
# above), certificates for the platforms' HTTPS, time zones for reminders,
# and curl for the health check.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libuv1 libsqlite3-0 libinih1 libutf8proc2 libjson-c5 libcurl4 \
        libwebsockets17 libsystemd0 libopenblas0-pthread libyaml-0-2 \
        libxxhash0 libicu72 libssl3 \
        ca-certificates tzdata curl \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /staging/usr/sbin/parleyd /usr/sbin/parleyd
COPY --from=build /staging/usr/bin/parley /usr/bin/parley
COPY --from=build /staging/etc/parley/parleyd.conf /etc/parley/parleyd.conf

# A fixed, numeric user, so that Kubernetes' runAsNonRoot can verify it and
# a volume can be given to it (fsGroup, chown 10001).
RUN groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid parley --no-create-home \
        --home-dir /var/lib/parley --shell /usr/sbin/nologin parley \
    && install -d -o parley -g parley -m 0750 /var/lib/parley
USER 10001:10001
WORKDIR /var/lib/parley
VOLUME /var/lib/parley

# The HTTP server (/metrics, /healthz, /readyz, webhooks) listens on every
# address in the container, so that a published port reaches it.  Its port
# is set here once; the health check reads the same variable.
ENV PARLEY_HTTP_ENABLED=true \
    PARLEY_HTTP_ADDRESS=0.0.0.0 \
    PARLEY_HTTP_PORT=8080
EXPOSE 8080

# Tokens are files: mount them at /run/secrets (docker compose's secrets go
# there), named telegram-token, slack-app-token, slack-bot-token,
# matrix-token, slack-signing-secret, telegram-webhook-secret; the adapters
# read them as systemd credentials.
ENV CREDENTIALS_DIRECTORY=/run/secrets

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD curl -fsS --max-time 4 -o /dev/null "http://127.0.0.1:${PARLEY_HTTP_PORT}/healthz" || exit 1

# In the foreground, records on standard error ("docker logs").  SIGTERM
# (docker stop) finishes the replies in hand within shutdown_timeout_ms
# (10 s): keep "docker stop -t" above it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/sbin/parleyd", "--foreground"]
CMD ["--config", "/etc/parley/parleyd.conf"]
