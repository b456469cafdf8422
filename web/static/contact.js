// One contact's page (operators it belongs to, supervisors): details and live messages.
"use strict";
(() => {
  const { api, connect, renderMeta, renderMessage } = Contact;
  const id = document.querySelector("[data-contact]").dataset.contact;
  const list = document.getElementById("messages");
  const load = async () => {
    const contact = await api("GET", `/contacts/${id}`);
    renderMeta(document.getElementById("current-meta"), contact);
    for (const m of contact.messages) renderMessage(list, m);
  };
  const socket = connect((msg) => {
    if (msg.topic === "contact:" + id && msg.data.message) renderMessage(list, msg.data.message);
  }, () => { load().then(() => socket.send({ op: "subscribe", topic: "contact:" + id })); });
})();
