# A stand-in for the official postgres image, from a Debian base, for `make compose-test` where no image
# registry is reachable (and Debian bookworm's PostgreSQL is 15, older than the 16 the control plane needs):
# the PostgreSQL 16 server the control plane image already carries (the pgserver wheel, relocatable), with
# the part of the official entrypoint compose.yaml uses (POSTGRES_PASSWORD, POSTGRES_USER, PGPORT and
# /docker-entrypoint-initdb.d/*.sh on the first start).
ARG BASE_IMAGE=debian:bookworm-slim
ARG CONTROLPLANE_IMAGE=controlplane:latest
FROM ${CONTROLPLANE_IMAGE} AS controlplane
FROM ${BASE_IMAGE}
ENV LANG=C.UTF-8
COPY --from=controlplane /opt/venv/lib/python3.11/site-packages/pgserver/pginstall /opt/pg/pgserver/pginstall
COPY --from=controlplane /opt/venv/lib/python3.11/site-packages/pgserver.libs /opt/pg/pgserver.libs
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN groupadd --system postgres && useradd --system --gid postgres --home-dir /var/lib/postgresql postgres \
 && install -d -o postgres -g postgres /var/lib/postgresql /var/lib/postgresql/data /var/run/postgresql \
      /docker-entrypoint-initdb.d
ENV PATH=/opt/pg/pgserver/pginstall/bin:$PATH PGDATA=/var/lib/postgresql/data PGHOST=/var/run/postgresql
USER postgres
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
