# syncline built from this repository (Debian 12, the same packages as scripts/install-deps.sh).
#   docker build -t syncline .
#   docker run --rm syncline --help
FROM debian:bookworm-slim AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        build-essential cmake pkg-config libpq-dev librdkafka-dev libavro-dev libjansson-dev \
        libmicrohttpd-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY src ./src
COPY connectors ./connectors
COPY schemas ./schemas
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNCLINE_TESTS=OFF \
    && cmake --build build -j"$(nproc)"

FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        libpq5 librdkafka1 libavro23 libjansson4 libmicrohttpd12 libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/syncline /usr/local/bin/syncline
COPY schemas /usr/share/syncline/schemas
USER nobody
ENTRYPOINT ["/usr/local/bin/syncline"]
