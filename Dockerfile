# syntax=docker/dockerfile:1
#
# qlat: multi-stage build.
#   builder  compiles the dependencies first (from Cargo.toml/Cargo.lock and
#            stub sources, so this layer is cached until the manifests change),
#            then the real sources.
#   runtime  debian:bookworm-slim with the binary, the model artifacts and the
#            catalog files, running as an unprivileged user.
#
#   docker build -t qlat:dev .
#   docker run -d --name qlat --restart unless-stopped -p 8080:8080 \
#     -v qlat-data:/var/lib/qlat qlat:dev

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
ENV CARGO_TERM_COLOR=never \
    CARGO_NET_RETRY=5 \
    SQLX_OFFLINE=true

# 1) Dependencies only. Stub targets stand in for src/ so that this layer
#    depends on the manifests alone; benches/ is copied because Cargo.toml
#    names its bench targets explicitly.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
RUN mkdir -p src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked --bin qlat \
 && rm -rf src target/release/qlat target/release/qlat.d \
           target/release/deps/qlat-* target/release/deps/libqlat-* \
           target/release/.fingerprint/qlat-*

# 2) The real sources. data/tpch.sql is compiled in (include_str!).
COPY src ./src
COPY data/tpch.sql ./data/tpch.sql
RUN cargo build --release --locked --bin qlat \
 && install -D -m 0755 target/release/qlat /out/qlat

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG QLAT_UID=10001
LABEL org.opencontainers.image.title="qlat" \
      org.opencontainers.image.description="Predicts SQL query latency from MySQL/MariaDB logs and serves the predictions" \
      org.opencontainers.image.licenses="Apache-2.0"

# Root CA bundle for HTTPS webhooks (rustls reads the system store), taken
# from the builder so that the runtime image needs no package manager run.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt

RUN groupadd --system --gid "${QLAT_UID}" qlat \
 && useradd --system --uid "${QLAT_UID}" --gid qlat --home-dir /var/lib/qlat \
            --no-create-home --shell /usr/sbin/nologin qlat \
 && mkdir -p /var/lib/qlat \
 && chown qlat:qlat /var/lib/qlat \
 && chmod 0750 /var/lib/qlat

WORKDIR /app
COPY --from=builder /out/qlat /usr/local/bin/qlat
# The model `qlat serve` answers with (QLAT_ARTIFACTS; the same model is also
# built into the binary) and the TPC-H schema for `--schema data/tpch.sql`.
COPY artifacts ./artifacts
COPY data/tpch.sql data/capture.json ./data/

ENV QLAT_ADDR=0.0.0.0:8080 \
    QLAT_HOME=/var/lib/qlat \
    QLAT_ARTIFACTS=/app/artifacts \
    QLAT_DATABASE_URL=sqlite:///var/lib/qlat/qlat.db \
    QLAT_SPOOL_DIR=/var/lib/qlat/spool \
    QLAT_LOG_FORMAT=json \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

VOLUME /var/lib/qlat
EXPOSE 8080
USER ${QLAT_UID}:${QLAT_UID}

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["qlat", "healthcheck"]

# `qlat serve` drains the prediction queue on SIGTERM and exits 0; give it
# time with `docker stop -t 30`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["qlat"]
CMD ["serve"]
