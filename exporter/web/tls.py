"""Server-side ``ssl.SSLContext`` from a ``TLSConfig``; errors name the file at fault."""

from __future__ import annotations

import ssl

from exporter.web.webconfig import TLSConfig, WebConfigError

_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_VERIFY = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


def build_ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    for key, path in (("cert_file", tls.cert_file), ("key_file", tls.key_file),
                      ("client_ca_file", tls.client_ca_file)):  # fmt: skip
        # ssl's own errors do not say which file is missing or unreadable.
        if path is not None:
            try:
                with open(path, "rb"):
                    pass
            except OSError as err:
                raise WebConfigError(
                    f"tls_server_config.{key}: cannot read {path}: {err.strerror}"
                ) from None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[tls.min_version]
    ctx.maximum_version = _VERSIONS[tls.max_version]
    try:
        ctx.load_cert_chain(certfile=str(tls.cert_file), keyfile=str(tls.key_file))
    except (OSError, ssl.SSLError) as err:
        raise WebConfigError(
            f"tls_server_config: cannot load cert_file {tls.cert_file} with key_file "
            f"{tls.key_file}: {_reason(err)}"
        ) from None
    ctx.verify_mode = _VERIFY[tls.client_auth_type]
    if tls.client_ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=str(tls.client_ca_file))
        except (OSError, ssl.SSLError) as err:
            raise WebConfigError(
                f"tls_server_config.client_ca_file: cannot load {tls.client_ca_file}: "
                f"{_reason(err)}"
            ) from None
    return ctx


def _reason(err: Exception) -> str:
    if isinstance(err, ssl.SSLError) and err.reason:
        return str(err.reason).lower().replace("_", " ")
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err)
