# Foreshock's image: one image, every service; the command picks which one runs
# (`receiver`, `ingest`, `detect`, `intervene`, `api`, or `start` for all in one process).
# Used by docker-compose.yml; the Kubernetes manifests in deploy/k8s expect it as foreshock:<tag>.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cli ./cli
COPY services ./services
COPY shared ./shared
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
# The web page's static files are read at run time from the sources' place.
COPY services/api/page ./services/api/page
# So is the shipped metric catalogue.
COPY shared/catalogue/metrics.yaml ./shared/catalogue/metrics.yaml
USER node
EXPOSE 9740
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.FORESHOCK_SERVER_PORT||9740)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["start"]
