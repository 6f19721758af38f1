// A throwaway PKI for TLS tests, made with tests/server/make_test_pki.sh (openssl) at test
// time: a CA, a server certificate for localhost and 127.0.0.1, and a client certificate,
// all signed by the CA and valid for two days. Nothing is committed.
#ifndef XAI_TESTS_SERVER_TEST_PKI_H_
#define XAI_TESTS_SERVER_TEST_PKI_H_

#include <cstdlib>
#include <string>

namespace xai::testing {

struct Pki {
  std::string ca, ca_key;               // CA certificate and key
  std::string server_cert, server_key;  // CN=server, SAN DNS:localhost, IP:127.0.0.1
  std::string client_cert, client_key;  // CN=client
};

// Makes DIR/NAME-*.pem with tests/server/make_test_pki.sh; false when openssl failed
// (its output is in DIR/NAME.log).
inline bool MakePki(const std::string& dir, const std::string& name, Pki* pki) {
  const std::string p = dir + "/" + name;
  *pki = {p + "-ca.pem",     p + "-ca.key",     p + "-server.pem",
          p + "-server.key", p + "-client.pem", p + "-client.key"};
  const std::string command = "bash '" + std::string(XAI_SOURCE_DIR) +
                              "/tests/server/make_test_pki.sh' '" + dir + "' '" + name + "'";
  return std::system(command.c_str()) == 0;
}

}  // namespace xai::testing

#endif  // XAI_TESTS_SERVER_TEST_PKI_H_
