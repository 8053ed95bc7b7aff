# The switchboard service: built with `docker compose build`, run by docker-compose.yml.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY sql ./sql
# MESSAGES_DIR: a new named volume takes this directory's owner, so the switchboard (user node)
# can make mailbox folders that FreeSWITCH records into, and delete old messages.
RUN mkdir -p /var/lib/switchboard/messages && chown node:node /var/lib/switchboard/messages
USER node
EXPOSE 8080
# Migrations run at start-up; SIGTERM stops taking calls and drains the rest (SHUTDOWN_GRACE_SECONDS).
CMD ["node", "dist/src/main.js"]
