# Redis from Debian's redis-server package, as its unprivileged `redis` user.
FROM botify-base:bookworm
RUN install -d -o redis -g redis -m 0750 /data
USER redis
WORKDIR /data
EXPOSE 6379
CMD ["redis-server", "--dir", "/data"]
