// The web page's static files (server/web/) and the bundled sample images (samples/*.png),
// embedded in the binary at build time by cmake/embed_files.cmake, so that the page works
// with nothing installed beside xai-server and nothing fetched from elsewhere.
#ifndef XAI_SERVER_WEB_ASSETS_H_
#define XAI_SERVER_WEB_ASSETS_H_

#include <cstddef>
#include <vector>

namespace xai::server {

struct WebAsset {
  const char* path;          // the URL path it is served at: "/", "/app.js", "/samples/x.png"
  const char* content_type;  // "text/html; charset=utf-8", "image/png", ...
  const unsigned char* data;
  size_t size;
};

const std::vector<WebAsset>& WebAssets();

}  // namespace xai::server

#endif  // XAI_SERVER_WEB_ASSETS_H_
