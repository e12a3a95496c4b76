# One image for every Tollgate service: `tollgate agent|enricher|sink|report|demo`.
FROM node:24-slim
RUN apt-get update && apt-get install -y --no-install-recommends conntrack && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/tollgate
COPY package.json package-lock.json ./
COPY libs libs
COPY services services
# npm install, not npm ci: the lock has chDB's native package for linux-x64 only (the registry these
# machines use serves no other platform's), and npm 11's ci refuses a lock without every platform's
# optional package ("Missing: @chdb/lib-darwin-arm64@ from lock file"). install keeps the locked
# versions and fetches the build platform's package if it is not the locked one.
RUN npm install --omit=dev --ignore-scripts=false --no-audit --no-fund && npm cache clean --force
COPY bin bin
COPY schemas schemas
COPY infra/clickhouse infra/clickhouse
COPY test/fixtures/geoip test/fixtures/geoip
COPY libs/sim/fixtures libs/sim/fixtures
# The Superset bundle builder (docker-compose.yml's superset-bundle service writes the bundle into a
# volume at /var/lib/tollgate/superset, made here so that volume belongs to the node user).
COPY infra/superset/bundle.ts infra/superset/bundle.ts
RUN mkdir -p /var/lib/tollgate/superset && chown node:node /var/lib/tollgate/superset
# The code with its types stripped, cached at build: the services never load the TypeScript
# stripper at run time (about 25 MB less resident memory per process, the agent's on every node).
# Read-only at run time (readOnlyRootFilesystem) is fine: Node only reads it then. `--help` loads
# each command's modules; the Kafka client adapters, loaded only when chosen, are loaded after.
ENV NODE_COMPILE_CACHE=/opt/tollgate/.cache/node-compile
RUN for c in agent enricher sink report alerts migrate demo; do node bin/tollgate.mjs "$c" --help > /dev/null; done && \
    node --input-type=module -e "import { enableCompileCache } from 'node:module'; enableCompileCache(); const { kafkaClientModules } = await import('@tollgate/kafka'); for (const load of Object.values(kafkaClientModules)) await load();"
USER node
ENTRYPOINT ["node", "/opt/tollgate/bin/tollgate.mjs"]
