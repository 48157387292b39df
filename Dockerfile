# The todo service's image: the binary, static, alone on an empty system,
# run as a user that is not root, its database in the volume /data.
#
#   podman build -t todo .                                  # compiles in BUILD_IMAGE
#   podman run -p 8080:8080 -v todo-data:/data -e TODO_TOKEN=... todo
#
# Where no registry is reachable (as in CI here), the binary is built first
# and copied in: put it and two empty folders in out/ and pick that stage:
#
#   podman build --build-arg BINARY=prebuilt -t todo .    # out/todo, out/data, out/tmp
#
# (.ci/run does exactly that; see the README, "In a container".)

ARG BUILD_IMAGE=docker.io/library/golang:1.26-bookworm
ARG BINARY=build

# The binary compiled from source: cgo for SQLite, linked statically.
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -tags 'sqlite_omit_load_extension netgo osusergo' -trimpath \
      -ldflags '-s -w -linkmode external -extldflags -static' -o /out/todo . \
 && mkdir -p /out/data /out/tmp && chmod 1777 /out/tmp

# Or the binary built before, from out/ in the build's context.
FROM scratch AS prebuilt
COPY out/ /out/

FROM ${BINARY} AS binary

FROM scratch
COPY --from=binary /out/todo /todo
COPY --from=binary /out/tmp /tmp
COPY --from=binary --chown=65532:65532 /out/data /data
USER 65532:65532
ENV TODO_ADDR=:8080 TODO_DB=/data/todo.db
EXPOSE 8080
VOLUME /data
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["/todo", "healthcheck"]
ENTRYPOINT ["/todo"]
