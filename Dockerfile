# The todo service's image: the binary, static, alone on an empty system,
# run as a user that is not root, its database in the volume /data.
#
#   podman build -t todo .          # or docker build
#   podman run -p 8080:8080 -v todo-data:/data -e TODO_TOKEN=... todo
#
# BUILD_IMAGE is the build stage's image: any with Go and gcc. Where no
# registry is reachable (as in CI here), make one locally and name it; .ci/
# container does (see the README, "In a container").

ARG BUILD_IMAGE=docker.io/library/golang:1.26-bookworm

# The binary: cgo for SQLite, linked statically.
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -tags 'sqlite_omit_load_extension netgo osusergo' -trimpath \
      -ldflags '-s -w -linkmode external -extldflags -static' -o /out/todo . \
 && mkdir -p /out/data /out/tmp && chmod 1777 /out/tmp

FROM scratch
COPY --from=build /out/todo /todo
COPY --from=build /out/tmp /tmp
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV TODO_ADDR=:8080 TODO_DB=/data/todo.db
EXPOSE 8080
VOLUME /data
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["/todo", "healthcheck"]
ENTRYPOINT ["/todo"]
