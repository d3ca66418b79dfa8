"""A throw-away PKI for the TLS tests, made with the openssl command line: a CA, and
certificates it signs (or self-signed ones) naming IP addresses in subjectAltName.
Keys are EC P-256 (fast to make). Every file lands in the case's work directory.
"""
import os
import subprocess


def _run(args, cwd):
    p = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr[-500:]))


class Pki:
    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_key = self.path("ca.key")
        self.ca = self.path("ca.pem")
        _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-keyout", self.ca_key, "-out", self.ca, "-days", "2",
              "-subj", "/CN=trunx test CA", "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], directory)

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, name, ips=("127.0.0.1",), self_signed=False):
        """Makes NAME.key and NAME.pem (signed by the CA unless self_signed) naming the
        IPs; returns (cert, key, combined) paths (combined: key then cert, as baresip
        reads it)."""
        key, cert, csr = self.path(name + ".key"), self.path(name + ".pem"), \
            self.path(name + ".csr")
        san = "subjectAltName=" + ",".join("IP:" + ip for ip in ips)
        if self_signed:
            _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                  "-subj", "/CN=" + name, "-addext", san], self.dir)
        else:
            _run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name],
                 self.dir)
            ext = self.path(name + ".ext")
            with open(ext, "w") as f:
                f.write(san + "\nextendedKeyUsage=serverAuth,clientAuth\n")
            _run(["x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                  "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext], self.dir)
        combined = self.path(name + ".combined.pem")
        with open(combined, "w") as out:
            for p in (key, cert):
                with open(p) as f:
                    out.write(f.read())
        return cert, key, combined
