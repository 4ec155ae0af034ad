// hegui console: the only script. Menu toggle on phones and a confirmation on destructive forms.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const btn of document.querySelectorAll("[data-toggle]")) {
    btn.addEventListener("click", () => {
      const target = document.getElementById(btn.dataset.toggle);
      const open = target.classList.toggle("open");
      btn.setAttribute("aria-expanded", String(open));
    });
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (ev) => {
      if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
    });
  }
});
