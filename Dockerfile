# One image for every Tollgate service: `tollgate agent|enricher|sink|report|demo`.
FROM node:24-slim
RUN apt-get update && apt-get install -y --no-install-recommends conntrack && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/tollgate
COPY package.json package-lock.json ./
COPY libs libs
COPY services services
RUN npm ci --omit=dev --ignore-scripts=false && npm cache clean --force
COPY bin bin
COPY schemas schemas
COPY infra/clickhouse infra/clickhouse
COPY test/fixtures/geoip test/fixtures/geoip
COPY libs/sim/fixtures libs/sim/fixtures
USER node
ENTRYPOINT ["node", "/opt/tollgate/bin/tollgate.mjs"]
