# syntax=docker/dockerfile:1
# Container image of aws-iam-credential-exporter.
#   docker build -t aws-iam-credential-exporter .
#   docker run --read-only -p 10063:10063 aws-iam-credential-exporter serve --demo
# Checked offline by tests/artefacts/deploy/test_dockerfile.py (hadolint, structure, build context).

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# Build stage: a venv holding the package and its dependencies, built from wheels.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY exporter ./exporter
# The git commit aws_iam_exporter_build_info reports (exporter/daemon/build_info.py):
#   docker build --build-arg REVISION="$(git rev-parse HEAD)" .
ARG REVISION=unknown
# --only-binary keeps compilers out of every stage: all dependencies ship manylinux wheels.
RUN printf '%s\n' "${REVISION}" > exporter/REVISION
RUN pip install --no-cache-dir --only-binary=:all: --no-binary=aws-iam-credential-exporter . \
    && python -m compileall -q /opt/venv

# Final stage: the same slim base, the venv and nothing else.
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="aws-iam-credential-exporter" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.description="Prometheus exporter and audit tool for the AWS IAM credential report" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/aws-iam-credential-exporter/aws-iam-credential-exporter" \
      org.opencontainers.image.documentation="https://github.com/aws-iam-credential-exporter/aws-iam-credential-exporter#deploy" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# No .pyc written at run time (the root filesystem may be read-only); logs unbuffered.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
COPY --from=build /opt/venv /opt/venv
# The only writable path the exporter needs: --state.dir. A named volume mounted
# here inherits the owner 65534 from the image.
RUN install -d -o 65534 -g 65534 -m 0700 /var/lib/iam-credential-exporter
VOLUME ["/var/lib/iam-credential-exporter"]
WORKDIR /var/lib/iam-credential-exporter
USER 65534:65534
EXPOSE 10063
# /-/healthy stays open under basic auth; set HEALTHCHECK_URL when TLS or another port is used.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('HEALTHCHECK_URL', 'http://127.0.0.1:10063/-/healthy'), timeout=4)"]
ENTRYPOINT ["iam-credential-exporter"]
CMD ["serve", "--state.dir=/var/lib/iam-credential-exporter"]
