// Component Hub catalogue: progressive enhancement only. Every page works without this file:
// copy buttons appear, search results update as you type, filters fold away on small screens.
(() => {
  "use strict";
  document.documentElement.classList.add("js");

  // ------------------------------------------------------------------ copy buttons
  const copyStatus = document.querySelector("[data-copy-status]");

  function fallbackCopy(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (_error) {
      copied = false;
    }
    area.remove();
    return copied;
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (_error) {
        // Permission refused: try the old way below.
      }
    }
    return fallbackCopy(text);
  }

  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      const copied = await copyText(source.textContent);
      button.textContent = copied ? "Copied" : "Copy failed";
      button.classList.toggle("is-copied", copied);
      if (copyStatus) {
        copyStatus.textContent = copied
          ? "Copied to the clipboard."
          : "Could not copy: select the text and copy it instead.";
      }
      window.clearTimeout(button.resetTimer);
      button.resetTimer = window.setTimeout(() => {
        button.textContent = "Copy";
        button.classList.remove("is-copied");
      }, 2000);
    });
  }

  // ------------------------------------------------------------------ search page
  const form = document.querySelector("form[data-live-search]");
  const results = document.getElementById("results");

  // On a phone the filters fold away (the chips above the results show which are on).
  const collapsible = document.querySelector("details[data-collapse-narrow]");
  if (collapsible && window.matchMedia("(max-width: 899px)").matches) {
    collapsible.open = false;
  }

  if (!form || !results || !window.fetch || !window.DOMParser) return;

  let controller = null;
  let typingTimer = null;

  function searchUrl() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (typeof value === "string" && value.trim() !== "") params.append(key, value.trim());
    }
    const query = params.toString();
    return "/search" + (query ? "?" + query : "");
  }

  async function refresh() {
    const url = searchUrl();
    if (controller) controller.abort();
    controller = new AbortController();
    const focusedId = document.activeElement && document.activeElement.id;
    results.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {
        headers: { Accept: "text/html" },
        signal: controller.signal,
      });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("results");
      if (!fresh) return;
      results.innerHTML = fresh.innerHTML;
      document.title = page.title;
      window.history.replaceState(null, "", url);
      if (focusedId && results.querySelector("#" + CSS.escape(focusedId))) {
        document.getElementById(focusedId).focus();
      }
    } catch (error) {
      if (error.name !== "AbortError") window.location.assign(url);
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("input", (event) => {
    if (event.target.name !== "q") return;
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(refresh, 250);
  });
  // Selects and radios (and the sort select, which sits outside the form element but
  // belongs to it through its form attribute) refresh at once; text fields when left.
  document.addEventListener("change", (event) => {
    if (event.target.form === form && event.target.name !== "q") refresh();
  });
})();
