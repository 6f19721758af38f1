// TLS for the gRPC port (and the REST port's): the server's certificate and key, and for mutual TLS
// the CA that client certificates must chain to. Files are checked before they are served (PEM that
// parses, a key that matches the certificate), and Reload() re-reads them while the server runs:
// new connections get the new certificates, open ones are kept.
#ifndef XAI_SERVER_TLS_H_
#define XAI_SERVER_TLS_H_

#include <memory>
#include <mutex>
#include <string>

#include "core/base/status.h"

namespace grpc {
class ServerCredentials;
}
struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace xai::server {

struct TlsOptions {
  std::string cert_file;       // PEM: the server's certificate, then its chain
  std::string key_file;        // PEM: its private key (unencrypted)
  std::string client_ca_file;  // PEM: CAs for client certificates; set: mutual TLS
  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// What a certificate file holds, for logs and errors.
struct CertificateSummary {
  std::string subject;    // of the first (leaf) certificate, OpenSSL's one-line form
  std::string not_after;  // "2027-11-27 05:00:00 UTC"
  int certificates = 0;   // in the file
  bool expired = false;   // not_after is past, or not_before is to come
};

class ServerTls {
 public:
  // Reads and checks the files. INVALID_ARGUMENT: only one of cert and key, a client CA
  // without them, a file that is not PEM, a key that does not match the certificate;
  // NOT_FOUND: a file that cannot be read. An expired certificate is served, with a
  // warning in the log (clients will refuse it).
  static core::StatusOr<std::unique_ptr<ServerTls>> Create(const TlsOptions& options);
  ~ServerTls();  // removes the private copies

  // The credentials for grpc::ServerBuilder::AddListeningPort.
  std::shared_ptr<grpc::ServerCredentials> credentials() const { return credentials_; }

  // Sets up an OpenSSL context (the REST port's) to serve the same certificates: TLS 1.2 or
  // later, each handshake with what Reload() last published, and with mutual TLS a client
  // certificate from the client CA required. The context must not outlive this object.
  bool ConfigureHttps(ssl_ctx_st* context) const;

  // Re-reads and checks the files; when they are good and changed, new handshakes use
  // them within about a second. On an error the served certificates stay as they were.
  // Returns what is served now (the leaf's subject and expiry); `changed` (optional) says
  // whether the files differed from what was served.
  core::StatusOr<CertificateSummary> Reload(bool* changed = nullptr);

  CertificateSummary served() const {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    return served_;
  }
  bool mutual() const { return !options_.client_ca_file.empty(); }

  // What the REST port's handshakes serve now (ConfigureHttps' callback reads it).
  struct HttpsIdentity;
  std::shared_ptr<const HttpsIdentity> https_identity() const;

 private:
  ServerTls() = default;
  core::StatusOr<CertificateSummary> ReadAndPublish(bool* changed);

  TlsOptions options_;
  // gRPC's file watcher reads these private copies (mode 0600 in a 0700 directory), which
  // are replaced atomically and only with files that passed the checks.
  std::string private_dir_;
  std::string identity_path_;  // the key, then the certificate chain
  std::string ca_path_;
  std::string published_;  // what identity_path_ + ca_path_ hold now
  CertificateSummary served_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  // What the REST port's handshakes serve: parsed from the files ReadAndPublish checked,
  // replaced with them. Read under https_mutex_ by each handshake.
  std::shared_ptr<const HttpsIdentity> https_;
  mutable std::mutex https_mutex_;
  mutable std::mutex reload_mutex_;
};

// Checks PEM text: `cert_chain` must hold at least one certificate and `key`, when not
// empty, a private key matching the first one. INVALID_ARGUMENT naming `what` otherwise.
core::StatusOr<CertificateSummary> CheckCertificates(const std::string& cert_chain,
                                                     const std::string& key,
                                                     const std::string& what);

}  // namespace xai::server

#endif  // XAI_SERVER_TLS_H_
