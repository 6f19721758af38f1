#include "server/tls.h"

#include <fcntl.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include "core/base/files.h"

namespace xai::server {

// Outside the anonymous namespace: ServerTls::HttpsIdentity (external linkage) holds them,
// which GCC refuses to see from another file of a unity batch (-Wsubobject-linkage).
template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE, X509_STORE_free>>;

namespace {

// Every certificate of PEM `text`, in order. None: OpenSSL's reason stays in its error queue
// for the caller.
std::vector<X509Ptr> ReadCertificates(const std::string& text) {
  Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  std::vector<X509Ptr> certificates;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(certificate);
  }
  if (!certificates.empty()) ERR_clear_error();  // the loop ends on "no start line"
  return certificates;
}

// OpenSSL's last error as text, and the queue emptied.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no PEM block found";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

std::string TimeText(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "?";
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

// A directory only this user can read, for the copies gRPC's file watcher reads; in
// memory (/dev/shm) where there is one.
core::StatusOr<std::string> MakePrivateDirectory() {
  std::string base = "/dev/shm";
  if (access(base.c_str(), W_OK | X_OK) != 0) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string pattern = base + "/xai-tls-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return core::UnavailableError("cannot make a private directory in " + base +
                                  " for the TLS files: " + std::strerror(errno));
  }
  return pattern;
}

// Replaces `path` with `bytes` atomically (a new file, mode 0600, renamed over it).
core::Status WritePrivateFile(const std::string& path, const std::string& bytes) {
  const std::string temporary = path + ".new";
  const int fd = open(temporary.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return core::UnavailableError("cannot write " + temporary + ": " + strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = strerror(errno);
      close(fd);
      unlink(temporary.c_str());
      return core::UnavailableError("cannot write " + temporary + ": " + reason);
    }
    written += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = strerror(errno);
    unlink(temporary.c_str());
    return core::UnavailableError("cannot replace " + path + ": " + reason);
  }
  return core::OkStatus();
}

}  // namespace

struct ServerTls::HttpsIdentity {
  std::vector<X509Ptr> chain;  // the leaf first
  KeyPtr key;
  StorePtr client_cas;  // mutual TLS: what client certificates must chain to; else null
};

namespace {

// OpenSSL's certificate callback, at each handshake of the REST port: the identity last
// published, so that a reload reaches new connections as it does gRPC's.
int UseHttpsIdentity(SSL* ssl, void* arg) {
  const auto identity = static_cast<const ServerTls*>(arg)->https_identity();
  if (identity == nullptr || identity->chain.empty()) return 0;
  if (SSL_use_certificate(ssl, identity->chain[0].get()) != 1 ||
      SSL_use_PrivateKey(ssl, identity->key.get()) != 1 || SSL_clear_chain_certs(ssl) != 1) {
    return 0;
  }
  for (size_t i = 1; i < identity->chain.size(); ++i) {
    if (SSL_add1_chain_cert(ssl, identity->chain[i].get()) != 1) return 0;
  }
  if (identity->client_cas != nullptr &&
      SSL_set1_verify_cert_store(ssl, identity->client_cas.get()) != 1) {
    return 0;
  }
  return 1;
}

}  // namespace

std::shared_ptr<const ServerTls::HttpsIdentity> ServerTls::https_identity() const {
  std::lock_guard<std::mutex> lock(https_mutex_);
  return https_;
}

bool ServerTls::ConfigureHttps(ssl_ctx_st* context) const {
  if (SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) != 1) return false;
  SSL_CTX_set_cert_cb(context, UseHttpsIdentity, const_cast<ServerTls*>(this));
  if (mutual()) {
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return true;
}

core::StatusOr<CertificateSummary> CheckCertificates(const std::string& cert_chain,
                                                     const std::string& key,
                                                     const std::string& what) {
  ERR_clear_error();
  const std::vector<X509Ptr> chain = ReadCertificates(cert_chain);
  if (chain.empty()) {
    return core::InvalidArgumentError(what + " holds no PEM certificate (" + OpenSslError() + ")");
  }
  X509* const leaf = chain[0].get();
  CertificateSummary summary;
  summary.certificates = static_cast<int>(chain.size());
  char subject[512];
  X509_NAME_oneline(X509_get_subject_name(leaf), subject, sizeof(subject));
  summary.subject = subject;
  summary.not_after = TimeText(X509_get0_notAfter(leaf));
  summary.expired = X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0 ||
                    X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0;
  if (key.empty()) return summary;

  Bio key_bio(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())));
  // An empty passphrase: an encrypted key fails here instead of prompting on a terminal.
  KeyPtr private_key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, const_cast<char*>("")));
  if (private_key == nullptr) {
    return core::InvalidArgumentError("the TLS key holds no unencrypted PEM private key (" +
                                      OpenSslError() + ")");
  }
  if (X509_check_private_key(leaf, private_key.get()) != 1) {
    ERR_clear_error();
    return core::InvalidArgumentError("the TLS key does not match the certificate of " +
                                      summary.subject + " in " + what);
  }
  return summary;
}

core::StatusOr<std::unique_ptr<ServerTls>> ServerTls::Create(const TlsOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return core::InvalidArgumentError("TLS needs both --tls-cert and --tls-key");
  }
  if (!options.client_ca_file.empty() && options.cert_file.empty()) {
    return core::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  std::unique_ptr<ServerTls> tls(new ServerTls());
  tls->options_ = options;
  XAI_ASSIGN_OR_RETURN(tls->private_dir_, MakePrivateDirectory());
  tls->identity_path_ = tls->private_dir_ + "/identity.pem";
  tls->ca_path_ = tls->private_dir_ + "/client-ca.pem";
  XAI_ASSIGN_OR_RETURN(tls->served_, tls->ReadAndPublish(nullptr));

  // gRPC reads the copies now and checks them every second for changes.
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
  if (tls->mutual()) {
    provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        tls->identity_path_, tls->identity_path_, tls->ca_path_, /*refresh_interval_sec=*/1);
  } else {
    provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        tls->identity_path_, tls->identity_path_, /*refresh_interval_sec=*/1);
  }
  grpc::experimental::TlsServerCredentialsOptions credentials(provider);
  credentials.watch_identity_key_cert_pairs();
  if (tls->mutual()) {
    credentials.watch_root_certs();
    credentials.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    credentials.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  tls->credentials_ = grpc::experimental::TlsServerCredentials(credentials);
  return tls;
}

ServerTls::~ServerTls() {
  credentials_.reset();
  if (!private_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(private_dir_, ignored);
  }
}

core::StatusOr<CertificateSummary> ServerTls::ReadAndPublish(bool* changed) {
  if (changed != nullptr) *changed = false;
  XAI_ASSIGN_OR_RETURN(std::string cert, core::ReadFile(options_.cert_file));
  XAI_ASSIGN_OR_RETURN(std::string key, core::ReadFile(options_.key_file));
  XAI_ASSIGN_OR_RETURN(CertificateSummary summary,
                       CheckCertificates(cert, key, "--tls-cert " + options_.cert_file));
  std::string ca;
  if (mutual()) {
    XAI_ASSIGN_OR_RETURN(ca, core::ReadFile(options_.client_ca_file));
    XAI_RETURN_IF_ERROR(
        CheckCertificates(ca, "", "--tls-client-ca " + options_.client_ca_file).status());
  }
  // The key first: gRPC takes the first private key and the certificates in order.
  const std::string identity = key + "\n" + cert;
  OPENSSL_cleanse(key.data(), key.size());
  if (identity + ca == published_) return summary;
  if (summary.expired) {
    spdlog::warn(
        "the TLS certificate of {} is outside its validity (not after {}): clients "
        "will refuse it",
        summary.subject, summary.not_after);
  }
  // The REST port's copy, parsed from the same checked text.
  auto https = std::make_shared<HttpsIdentity>();
  https->chain = ReadCertificates(cert);
  Bio key_bio(BIO_new_mem_buf(identity.data(), static_cast<int>(identity.size())));
  https->key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, const_cast<char*>("")));
  if (mutual()) {
    https->client_cas.reset(X509_STORE_new());
    for (const X509Ptr& certificate : ReadCertificates(ca)) {
      X509_STORE_add_cert(https->client_cas.get(), certificate.get());
    }
  }
  ERR_clear_error();
  if (https->chain.empty() || https->key == nullptr) {
    return core::InternalError("the checked TLS files could not be read again");
  }
  if (mutual()) XAI_RETURN_IF_ERROR(WritePrivateFile(ca_path_, ca));
  XAI_RETURN_IF_ERROR(WritePrivateFile(identity_path_, identity));
  published_ = identity + ca;
  {
    std::lock_guard<std::mutex> lock(https_mutex_);
    https_ = std::move(https);
  }
  if (changed != nullptr) *changed = true;
  return summary;
}

core::StatusOr<CertificateSummary> ServerTls::Reload(bool* changed) {
  std::lock_guard<std::mutex> lock(reload_mutex_);
  XAI_ASSIGN_OR_RETURN(served_, ReadAndPublish(changed));
  return served_;
}

}  // namespace xai::server
