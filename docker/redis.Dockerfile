# Redis from Debian's redis-server package, as its unprivileged `redis` user.
FROM botify-base:bookworm
# /run/redis holds the socket (group redis: the replicas' user is a member), /data the dumps.
RUN install -d -o redis -g redis -m 0750 /data /run/redis
USER redis
WORKDIR /data
CMD ["redis-server", "--port", "0", "--unixsocket", "/run/redis/redis.sock", "--dir", "/data"]
