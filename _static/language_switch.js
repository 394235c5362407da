// The language switch: a link on every page of both books to the same page in the other
// language. The zh book is published inside the English one, at zh/ under its root
// (_build/html/zh/), so English book/x.html <-> zh/book/x.html. A page without a zh twin
// yet links to the other book's first page. The list below is written by tools/sync_zh.py.
const ZH_PAGES = ["book/00_before_you_start", "book/01_sr_problem", "book/02_mse_averaging", "book/03_content_loss", "book/04_building_modules", "book/05_perceptual_loss", "book/06_training", "book/07_evaluation", "book/08_comparison", "book/09_training_engine", "book/10_evaluation_and_upscaling", "book/11_data", "book/12_upscale_in_the_browser", "book/intro", "book/references"];

(function () {
  "use strict";
  function twinUrl() {
    const html = document.documentElement;
    const zh = (html.lang || "").toLowerCase().startsWith("zh");
    const root = new URL(html.dataset.content_root || "./", window.location.href);
    let page = window.location.pathname.slice(root.pathname.length).replace(/\.html$/, "");
    if (page === "" || page.endsWith("/")) page += "index";
    const other = new URL(zh ? "../" : "zh/", root);
    const shared = ZH_PAGES.includes(page) || page === "index" || page === "search";
    return {zh: zh, url: new URL((shared ? page : "book/intro") + ".html", other).href};
  }

  function addSwitch() {
    if (document.getElementById("srgan-language-switch")) return;
    const twin = twinUrl();
    const link = document.createElement("a");
    link.id = "srgan-language-switch";
    link.className = "btn btn-sm";
    link.href = twin.url;
    link.hreflang = twin.zh ? "en" : "zh-CN";
    link.lang = twin.zh ? "en" : "zh-CN";
    link.textContent = twin.zh ? "English" : "中文";
    link.title = twin.zh ? "Read this page in English" : "阅读本页的中文版";
    const bar = document.querySelector(".article-header-buttons");
    if (bar) {
      bar.prepend(link);
    } else {
      (document.querySelector("main") || document.body).prepend(link);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addSwitch);
  } else {
    addSwitch();
  }
})();
