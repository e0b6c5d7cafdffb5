# syntax=docker/dockerfile:1
# guacsync as a small non-root image (distroless: no shell, no package manager;
# glibc, CA certificates and the guacsync binary, running as uid 65532).
#
#   docker build --build-arg GUACSYNC_BUILD_COMMIT="$(git rev-parse --short=12 HEAD)" -t guacsync .
#   docker run --rm -v "$PWD:/work:ro" guacsync validate --strict manifests
#   docker run --rm -v "$PWD:/work:ro" -e GUACAMOLE_URL -e GUACAMOLE_USERNAME \
#     -e GUACAMOLE_PASSWORD_FILE=/run/secrets/guacamole-password \
#     -v "$HOME/.guacamole-password:/run/secrets/guacamole-password:ro" guacsync plan manifests
#
# The working directory is /work: mount the repository holding the manifests and
# guacsync.toml there (read-only is enough for validate, plan, sync and export to
# stdout; watch writes its lock file next to the manifests). The build context has
# no .git (see .dockerignore), so `guacsync --version` names the commit passed as
# GUACSYNC_BUILD_COMMIT.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
ARG GUACSYNC_BUILD_COMMIT=unknown
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the build between builds; the binary is
# copied out of the cached target directory in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    GUACSYNC_BUILD_COMMIT="${GUACSYNC_BUILD_COMMIT}" \
      cargo build --release --locked --bin guacsync \
 && install -D -m 0755 target/release/guacsync /out/guacsync

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/guacsync /usr/local/bin/guacsync
WORKDIR /work
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/guacsync"]
CMD ["--help"]
