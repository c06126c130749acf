# upwatch as a container: `docker build -t upwatch .` (see README, "Run it in a container").
# Build stage: the official Rust image (Debian bookworm), the same toolchain line as CI.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin upwatch \
 && install -D -m 0755 target/release/upwatch /out/usr/local/bin/upwatch \
 && install -d -m 0755 -o 65532 -g 65532 /out/var/lib/upwatch

# Runtime: distroless "cc" (glibc and CA certificates, no shell, no package manager),
# as its built-in non-root user. Works with `--read-only`: only the state volume is written.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /
COPY monitor.toml /etc/upwatch/monitor.toml
ENV UPWATCH_CONFIG=/etc/upwatch/monitor.toml \
    UPWATCH_LISTEN=0.0.0.0:9777 \
    UPWATCH_STATE_DIR=/var/lib/upwatch \
    UPWATCH_LOG_FORMAT=json
USER 65532:65532
VOLUME ["/var/lib/upwatch"]
EXPOSE 9777
# Asks the daemon's own /healthz on UPWATCH_LISTEN: exit 0 healthy, 1 not.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/upwatch", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/upwatch"]
CMD ["run"]
