# One image for every role of the control plane:
#   controlplane api | worker | db upgrade | pvesim | demo   (the entrypoint is `controlplane`)
#
#   docker build -t controlplane .
#
# BASE_IMAGE is any Debian bookworm root (debian:bookworm-slim by default); both stages use it, so the
# virtual environment built in the first stage runs on the same Python in the second.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
# Go for OpenTofu and the provider: the toolchain as the Go module proxy serves it (module golang.org/toolchain).
ARG GO_VERSION=1.26.8
ARG GOPROXY=https://proxy.golang.org
# pip and npm trust the system's CA certificates (as curl, git and Go do), not bundles of their own.
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl unzip git python3 python3-venv npm \
 && rm -rf /var/lib/apt/lists/*
RUN arch="$(dpkg --print-architecture)" \
 && curl -fsSL -o /tmp/go.zip "$GOPROXY/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-$arch.zip" \
 && unzip -q /tmp/go.zip -d /tmp/go \
 && mv "/tmp/go/golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-$arch" /usr/local/go \
 && rm -rf /tmp/go /tmp/go.zip
ENV PATH=/usr/local/go/bin:$PATH GOPROXY=$GOPROXY GOPATH=/tmp/gopath GOCACHE=/tmp/gocache
WORKDIR /opt/controlplane

# The pinned OpenTofu and the bpg/proxmox provider mirror, from the same tools/ module as `make tools`
# (into /opt/controlplane/.tools, where the package looks for them); the Go caches are not kept. Only what
# the Go build reads is copied here, so that this long layer is made again only when the pins change.
COPY tools/build.sh tools/versions.env tools/
COPY tools/tofu/ tools/tofu/
COPY tools/bpg/ tools/bpg/
RUN bash tools/build.sh --no-helm && rm -rf /tmp/gopath /tmp/gocache .tools/cache

# The package's dependencies (ansible-core among them) in a virtual environment: a layer of their own, made
# again only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --quiet --upgrade pip \
 && /opt/venv/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir --quiet -r /tmp/requirements.txt && rm /tmp/requirements.txt
# The portal's pinned browser code (package-lock.json), as `make assets` installs it.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --omit=dev \
 && mkdir -p /tmp/vendor && cp node_modules/htmx.org/dist/htmx.min.js /tmp/vendor/ && rm -rf node_modules
COPY controlplane/ controlplane/
COPY terraform/ terraform/
COPY playbooks/ playbooks/
COPY inventory_plugins/ inventory_plugins/
COPY vault/ vault/
COPY deploy/compose/ deploy/compose/
COPY ansible.cfg controlplane.yml README.md ./
RUN mkdir -p controlplane/portal/static/vendor && cp /tmp/vendor/* controlplane/portal/static/vendor/ \
 && /opt/venv/bin/pip install --no-cache-dir --quiet --no-deps -e . \
 && find /opt/controlplane -name __pycache__ -prune -exec rm -rf {} + \
 && /opt/venv/bin/python -m compileall -q /opt/controlplane/controlplane
# The Ansible collection controlplane.controlplane (its inventory plugin), installed where ansible looks.
COPY tools/build_collection.py tools/
RUN /opt/venv/bin/python tools/build_collection.py --output-dir /tmp/collection \
 && PATH=/opt/venv/bin:$PATH ansible-galaxy collection install -p /usr/share/ansible/collections \
      /tmp/collection/controlplane-controlplane-*.tar.gz >/dev/null \
 && rm -rf /tmp/collection


FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
# Runtime only: Python, git (GitOps sources), ssh (Ansible), CA certificates. No compilers, no Go, no npm.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 git openssh-client ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 controlplane \
 && useradd --system --uid 10001 --gid controlplane --home-dir /var/lib/controlplane --create-home \
      --shell /usr/sbin/nologin controlplane \
 && install -d -o controlplane -g controlplane -m 0700 /var/lib/controlplane/approle \
      /var/lib/controlplane/approle/api /var/lib/controlplane/approle/worker \
      /var/lib/controlplane/openbao-init /var/lib/controlplane/pvesim
# (Mount points of the compose volumes, made here so that fresh volumes belong to the service user.)
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/controlplane /opt/controlplane
COPY --from=build /usr/share/ansible/collections /usr/share/ansible/collections
ENV PATH=/opt/venv/bin:/opt/controlplane/.tools/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CONTROLPLANE_DATA_DIR=/var/lib/controlplane \
    CONTROLPLANE_HTTP_HOST=0.0.0.0
USER 10001:10001
WORKDIR /var/lib/controlplane
EXPOSE 8080
ENTRYPOINT ["tini", "--", "controlplane"]
CMD ["api"]
