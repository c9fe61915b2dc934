# The recommender service image: gunicorn + botify, running as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY requirements.txt pyproject.toml README.md ./
COPY botify ./botify
COPY sim ./sim
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin botify \
    && mkdir -p /data /logs \
    && chown botify:botify /data /logs

USER botify
ENV BOTIFY_DATA_DIR=/data/world BOTIFY_LOG_DIR=/logs
EXPOSE 5001
# Redis comes from BOTIFY_REDIS_URL (the compose file points it at the redis service).
CMD ["botify", "serve", "--host", "0.0.0.0", "--port", "5001", "--workers", "2"]
