# syntax=docker/dockerfile:1
# Build: a static crowdledger binary with the migrations embedded.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/crowdledger ./cmd/crowdledger

# Run: distroless static, as the nonroot user (uid 65532). Apply migrations
# with `crowdledger migrate` as an init step before `serve`, with the
# owner's DATABASE_URL; run `serve` with the service role's
# (crowdledger_app, which migrate grants; APP_DB_PASSWORD sets its password).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/crowdledger /usr/local/bin/crowdledger
USER nonroot:nonroot
EXPOSE 8080
ENV LISTEN_ADDR=:8080
ENTRYPOINT ["/usr/local/bin/crowdledger"]
CMD ["serve"]
