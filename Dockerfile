# One image for both processes: `api` and `worker` are its two commands.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "bin/closermode.js"]
CMD ["api"]
