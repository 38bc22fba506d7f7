# syntax=docker/dockerfile:1
#
# pgward container image.
#
#   docker build -t pgward .
#   docker run --rm -p 127.0.0.1:6432:6432 -e PGWARD_UPSTREAM=db.internal:5432 pgward
#
# The image listens on 0.0.0.0:6432 inside the container (PGWARD_LISTEN) and
# reads /etc/pgward/config/pgward.yaml (policies in /etc/pgward/policies);
# mount your own files there to change them.

FROM rust:1-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends libclang-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mounts keep the crate registry and build artefacts between builds;
# the binary is copied out of the cached target directory.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -D -m 0755 target/release/pgward /out/pgward

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out/pgward /usr/local/bin/pgward
# Same layout as the repository, so the config's relative policy path holds.
COPY config/pgward.yaml /etc/pgward/config/pgward.yaml
COPY policies/ /etc/pgward/policies/
# The audit spool's default place in the local stack (a volume mounts here).
RUN install -d -o 65532 -g 65532 -m 0750 /var/lib/pgward/audit
ENV PGWARD_LISTEN=0.0.0.0:6432
USER 65532:65532
EXPOSE 6432
ENTRYPOINT ["pgward"]
CMD ["serve", "--config", "/etc/pgward/config/pgward.yaml"]
