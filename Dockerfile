# syntax=docker/dockerfile:1
# chatgate container image: a static binary on distroless, running as a non-root user, with
# its embedded store on the /data volume. Build: docker build -t chatgate .
# Run:   docker run -p 8080:8080 -v chatgate-data:/data -e CHATGATE_NODE_ID=chatgate-1 chatgate
# (a stable node id: it defaults to the host name, a new one per container, and names the
# node in answers, chat properties and logs; docs/operations.md "Container").

FROM golang:1.26 AS build
WORKDIR /src
# Module downloads are cached in their own layer: they change far less often than the code.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/chatgate ./cmd/chatgate \
 && mkdir -p /out/data

# distroless/static has CA certificates and tzdata but no shell or package manager; the
# :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/chatgate /usr/local/bin/chatgate
# Owned by the runtime user so a fresh named volume mounted here is writable.
COPY --from=build --chown=65532:65532 /out/data /data
ENV CHATGATE_ADDR=:8080 \
    CHATGATE_DATA=/data \
    CHATGATE_LOG_FORMAT=json
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080
# No curl in the image: the binary checks itself (GET /healthz on CHATGATE_ADDR).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/chatgate", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chatgate"]
