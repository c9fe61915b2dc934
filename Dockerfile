# The recommender image: gunicorn + botify, running as an unprivileged user. Built offline
# from the base image and the wheels that docker/prepare.sh makes (no registry, no PyPI).
FROM botify-base:bookworm AS install
COPY build/wheels /wheels
RUN python3 -m venv /opt/botify \
    && /opt/botify/bin/pip install --quiet --no-index --find-links /wheels \
       -r /wheels/requirements.txt
# The project last: editing botify rebuilds this layer only, not the dependencies'. With its
# dependencies checked: wheels older than requirements.txt (prepare.sh not rerun) fail here.
COPY pyproject.toml requirements.txt requirements-dev.txt requirements-spark.txt README.md /src/
COPY botify /src/botify
COPY sim /src/sim
RUN /opt/botify/bin/pip install --quiet --no-index --find-links /wheels /src

# The wheels stay behind in the install stage: the image holds the installed packages only.
FROM botify-base:bookworm
COPY --from=install /opt/botify /opt/botify
# In group redis: Redis's socket (/run/redis, a volume shared with the redis service) is
# group-accessible only. (gunicorn's control socket goes in the run directory `botify serve` makes.)
RUN useradd --uid 10001 --create-home --groups redis --shell /usr/sbin/nologin botify \
    && install -d -o botify -g botify /data /logs \
    && install -d -o redis -g redis -m 0750 /run/redis
ENV PATH=/opt/botify/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    BOTIFY_DATA_DIR=/data/world BOTIFY_LOG_DIR=/logs MPLCONFIGDIR=/tmp
USER botify
WORKDIR /tmp
EXPOSE 5001
# Redis comes from BOTIFY_REDIS_URL (the compose file: the redis service's Unix socket).
CMD ["botify", "serve", "--host", "0.0.0.0", "--port", "5001", "--workers", "2"]
