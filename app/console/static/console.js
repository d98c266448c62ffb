// Ségur Sandbox console: what JavaScript adds to pages that work without it.
// - copy buttons next to values (hidden without JavaScript: the values stay selectable text);
// - new rows (the journal's entries, a mailbox's messages), polled every second and put at the top of the table;
// - a confirmation dialog before a form marked data-confirm is sent.
"use strict";

function copyText(text, button) {
  const done = () => { const old = button.textContent; button.textContent = "Copié"; setTimeout(() => { button.textContent = old; }, 1200); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
}

function fallbackCopy(text, done) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "absolute";
  area.style.left = "-9999px";
  document.body.appendChild(area);
  area.select();
  try { document.execCommand("copy"); done(); } finally { document.body.removeChild(area); }
}

function liveRows(body) {
  const base = body.dataset.live;
  const status = document.getElementById("live-status");
  let busy = false;
  async function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    try {
      const separator = base.includes("?") ? "&" : "?";
      const response = await fetch(base + separator + "after=" + encodeURIComponent(body.dataset.after), {credentials: "same-origin"});
      if (!response.ok) { if (status) { status.textContent = "(mise à jour interrompue : " + response.status + ")"; } return; }
      const html = (await response.text()).trim();
      body.dataset.after = response.headers.get("X-Last-Id") || body.dataset.after;
      if (html) {
        const template = document.createElement("template");
        template.innerHTML = html;
        const rows = Array.from(template.content.querySelectorAll("tr"));
        rows.forEach((row) => row.classList.add("new"));
        body.prepend(...rows);
      }
      if (status) { status.textContent = "(en direct)"; }
    } catch (error) {
      if (status) { status.textContent = "(hors ligne)"; }
    } finally {
      busy = false;
    }
  }
  setInterval(poll, 1000);
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => copyText(button.dataset.copy, button));
  });
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
  const live = document.getElementById("live-rows");
  if (live && live.dataset.live) { liveRows(live); }
});
